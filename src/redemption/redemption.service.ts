import { isIP } from 'node:net';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { sha256Hex } from '../common/canonical-json';
import type { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import { newId } from '../common/ids';
import { TransactionService } from '../database/transaction.service';
import { parseCode, isValidSerial, pinMatches } from '../issuance/card-code';
import { CardSecrets } from '../issuance/card-secrets';
import type { CardStatus } from '../cards/card.entity';
import { LedgerAccount } from '../ledger/ledger.entity';
import { normaliseIdNumber, parsePurchaser } from '../orders/purchaser-identity';
import { CardErrors } from '../cards/card-errors';
import { CardMovements, isPastExpiry, type CardMovement, type CardRow } from '../cards/card-movements';
import { FREEZABLE_STATUSES } from '../cards/card-rules';
import { AppConfig } from '../config/app-config';
import { AttemptLimiter, type AttemptSource, type EndUser } from './attempt-limiter';
import type {
  BindCardDto,
  CardVerificationDto,
  DebitDto,
  EndUserDto,
  HolderIdentityDto,
  RedemptionCardDto,
  RedemptionDto,
  ReverseDto,
  VerifyCardDto,
} from './dto/redemption.dto';
import type { RedemptionKind } from './redemption.entity';

/**
 * The end user a channel acts for: the body's end_user, its IP else from the X-End-User-IP header (checked here, as
 * the body's is by validation). IPs are lower-cased so that one IPv6 address is one key.
 */
function endUserOf(body: EndUserDto | undefined, ipHeader: string | undefined): EndUser {
  let ip = body?.ip;
  const header = ipHeader?.trim();
  if (ip === undefined && header) {
    if (isIP(header) === 0) {
      throw ApiError.validation([{ field: 'X-End-User-IP', message: 'X-End-User-IP must be an IPv4 or IPv6 address' }]);
    }
    ip = header;
  }
  return { ip: ip?.toLowerCase() ?? null, deviceId: body?.device_id ?? null };
}

interface Leg {
  card: Pick<CardRow, 'serial' | 'enterpriseId' | 'holderRef'>;
  amount: number;
  balanceAfter: number;
  status: CardStatus;
}

/**
 * The redemption channel (DESIGN.md §4): verify a code, bind a card to a holder, debit and reverse. Every call is
 * idempotent by the channel's reference (unique per client, claimed by inserting the redemption first): a retry
 * gets the stored answer, another request under a used reference is refused. Balances change only through
 * conditional updates of locked rows (the CHECK keeps 0 ≤ balance ≤ face value whatever happens), and each movement
 * writes its card_transactions row, its ledger entry and its event in the same transaction.
 */
@Injectable()
export class RedemptionService {
  private readonly logger = new Logger(RedemptionService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionService,
    private readonly secrets: CardSecrets,
    private readonly cipher: DataCipher,
    private readonly limiter: AttemptLimiter,
    private readonly cards: CardMovements,
    private readonly config: AppConfig,
  ) {}

  async verify(ctx: RequestContext, dto: VerifyCardDto, endUserIpHeader?: string): Promise<CardVerificationDto> {
    const code = parseCode(dto.code);
    if (code === null) throw CardErrors.invalidCode();
    const source: AttemptSource = {
      clientId: ctx.clientId,
      ip: ctx.ip,
      endUser: endUserOf(dto.end_user, endUserIpHeader),
    };
    await this.limiter.assertAllowed(source);
    const card = await this.cards.byCodeIndex(this.dataSource.manager, this.secrets.blindIndexCandidates(code));
    if (!card) {
      await this.limiter.recordFailure(ctx, source);
      throw CardErrors.invalidCredentials();
    }
    // Once bound, a card is its channel's: to any other it does not exist (no serial, balance or status).
    if (card.boundClientId !== null && card.boundClientId !== ctx.clientId) throw CardErrors.notFound();
    // A frozen card is shown as such (it may come back); cards that are gone are refused.
    if (card.status !== 'frozen') this.assertUsable(card);
    if (isPastExpiry(card)) throw CardErrors.unusable(card.serial, 'expired')!;
    return {
      object: 'card_verification',
      serial: card.serial,
      card_type: card.cardType,
      status: card.status,
      face_value: card.faceValue,
      balance: card.balance,
      currency: 'CNY',
      expires_at: card.expiresAt?.toISOString() ?? null,
      bound: card.holderRef !== null,
    };
  }

  async bind(ctx: RequestContext, dto: BindCardDto, endUserIpHeader?: string): Promise<RedemptionDto> {
    const code = parseCode(dto.code);
    if (code === null) throw CardErrors.invalidCode();
    const clientId = this.clientOf(ctx);
    const source: AttemptSource = {
      clientId,
      holderRef: dto.holder_ref,
      ip: ctx.ip,
      endUser: endUserOf(dto.end_user, endUserIpHeader),
    };
    await this.limiter.assertAllowed(source);
    const codeHash = this.secrets.blindIndex(code);
    const fingerprint = sha256Hex(`bind\n${codeHash.toString('hex')}\n${dto.holder_ref}`);
    const replayed = await this.replay(this.dataSource.manager, clientId, dto.reference, fingerprint);
    if (replayed) return replayed;

    const card = await this.cards.byCodeIndex(this.dataSource.manager, this.secrets.blindIndexCandidates(code));
    if (!card) {
      await this.limiter.recordFailure(ctx, source);
      throw CardErrors.invalidCredentials();
    }
    // A frozen or gone card is refused before its PIN is looked at: the code alone tells as much (verify), and a card
    // frozen for wrong PINs must not go on answering whether a PIN tried on it is right.
    this.assertUsable(card);
    if (!this.pinIsCorrect(card, dto.pin)) {
      await this.countWrongPin(ctx, card.serial);
      await this.limiter.recordFailure(ctx, source);
      throw CardErrors.invalidCredentials();
    }
    if (card.cardType === 'registered') {
      if (!dto.holder_identity) throw CardErrors.holderIdentityRequired(card.serial);
      if (!(await this.identityMatches(card, dto.holder_identity))) {
        await this.limiter.recordFailure(ctx, source);
        throw CardErrors.holderIdentityMismatch(card.serial);
      }
    }

    return this.transactions.run(ctx, async (manager) => {
      const id = newId('redemption');
      const again = await this.claim(manager, id, clientId, dto.reference, 'bind', fingerprint);
      if (again) return again;
      // First bind wins, for its channel and holder: only an unbound, unexpired card changes; every later bind finds
      // it taken. The count of wrong PINs starts again from the right one.
      const [bound] = await manager.query<Array<{ balance: string }>>(
        `WITH u AS (
           UPDATE cards SET status = 'active', holder_ref = $2, bound_client_id = $3, bound_at = now(), pin_failures = 0
           WHERE serial = $1 AND status IN ('issued', 'delivered') AND (expires_at IS NULL OR expires_at > now())
           RETURNING balance)
         SELECT balance::text AS balance FROM u`,
        [card.serial, dto.holder_ref, clientId],
      );
      if (!bound) {
        const current = await this.cards.bySerial(manager, card.serial, true);
        if (!current) throw CardErrors.invalidCredentials();
        if (current.holderRef === null) {
          this.assertUsable(current);
          throw CardErrors.invalidState(current.serial, current.status, 'bound');
        }
        if (current.boundClientId !== clientId || current.holderRef !== dto.holder_ref) {
          throw CardErrors.alreadyBound(current.serial);
        }
        this.assertUsable(current);
        // Bound to this holder already: nothing changes, and the reference now answers with the card.
        return this.store(manager, ctx, {
          id,
          kind: 'bind',
          reference: dto.reference,
          fingerprint,
          enterpriseId: current.enterpriseId,
          holderRef: dto.holder_ref,
          amount: 0,
          legs: [{ card: current, amount: 0, balanceAfter: current.balance, status: current.status }],
        });
      }
      const balance = Number(bound.balance);
      const boundCard = { ...card, holderRef: dto.holder_ref, boundClientId: clientId };
      await this.cards.record(manager, ctx, [
        {
          card: boundCard,
          kind: 'bind',
          amount: 0,
          balanceAfter: balance,
          redemptionId: id,
          event: { type: 'card.bound', data: { reference: dto.reference } },
        },
      ]);
      return this.store(manager, ctx, {
        id,
        kind: 'bind',
        reference: dto.reference,
        fingerprint,
        enterpriseId: card.enterpriseId,
        holderRef: dto.holder_ref,
        amount: 0,
        legs: [{ card: boundCard, amount: 0, balanceAfter: balance, status: 'active' }],
      });
    });
  }

  async debit(ctx: RequestContext, dto: DebitDto): Promise<RedemptionDto> {
    if (dto.serial !== undefined && !isValidSerial(dto.serial)) throw CardErrors.notFound(dto.serial);
    const clientId = this.clientOf(ctx);
    const fingerprint = sha256Hex(`debit\n${dto.serial ?? ''}\n${dto.holder_ref}\n${dto.amount}`);
    return this.transactions.run(ctx, async (manager) => {
      const id = newId('redemption');
      const replayed = await this.claim(manager, id, clientId, dto.reference, 'debit', fingerprint);
      if (replayed) return replayed;
      const legs =
        dto.serial !== undefined
          ? [await this.debitCard(manager, clientId, dto.serial, dto.holder_ref, dto.amount)]
          : await this.debitHolder(manager, clientId, dto.holder_ref, dto.amount);
      await this.cards.record(
        manager,
        ctx,
        legs.map((leg): CardMovement => ({
          card: leg.card,
          kind: 'debit',
          amount: -leg.amount,
          balanceAfter: leg.balanceAfter,
          redemptionId: id,
          event: { type: 'card.debited', data: { reference: dto.reference } },
        })),
        {
          kind: 'card_debit',
          memo: `Redemption ${id}: ${dto.amount} fen spent (reference ${dto.reference})`,
          enterpriseId: legs[0].card.enterpriseId,
          lines: [
            { account: LedgerAccount.CardFloat, amount: dto.amount },
            { account: LedgerAccount.RevenueRedeemed, amount: -dto.amount },
          ],
        },
      );
      return this.store(manager, ctx, {
        id,
        kind: 'debit',
        reference: dto.reference,
        fingerprint,
        enterpriseId: legs[0].card.enterpriseId,
        holderRef: dto.holder_ref,
        amount: dto.amount,
        legs: legs.map((leg) => ({ ...leg, amount: -leg.amount })),
      });
    });
  }

  async reverse(ctx: RequestContext, debitId: string, dto: ReverseDto): Promise<RedemptionDto> {
    const clientId = this.clientOf(ctx);
    const fingerprint = sha256Hex(`reverse\n${debitId}\n${dto.amount ?? ''}`);
    return this.transactions.run(ctx, async (manager) => {
      const id = newId('redemption');
      const replayed = await this.claim(manager, id, clientId, dto.reference, 'reverse', fingerprint);
      if (replayed) return replayed;
      // The debit row is the lock that serialises reversals of one debit.
      const [debit] = await manager.query<Array<{ amount: string; reversed_amount: string; holder_ref: string }>>(
        `SELECT amount::text AS amount, reversed_amount::text AS reversed_amount, holder_ref FROM redemptions
         WHERE id = $1 AND client_id = $2 AND kind = 'debit' FOR UPDATE`,
        [debitId, clientId],
      );
      if (!debit) throw ApiError.notFound('debit', debitId);
      const reversible = Number(debit.amount) - Number(debit.reversed_amount);
      const amount = dto.amount ?? reversible;
      if (amount > reversible || amount <= 0) throw CardErrors.reversalExceedsDebit(reversible);

      // What each card of the debit still has out: its debit legs net of earlier reversals, last spent first.
      const outstanding = await manager.query<Array<{ serial: string; out: string }>>(
        `SELECT serial::text AS serial, (-SUM(amount))::text AS out FROM card_transactions
         WHERE redemption_id = $1 OR redemption_id IN (SELECT id FROM redemptions WHERE reverses_id = $1)
         GROUP BY serial HAVING SUM(amount) < 0 ORDER BY MIN(id) DESC`,
        [debitId],
      );
      const legs: Leg[] = [];
      let left = amount;
      for (const { serial, out } of outstanding) {
        if (left === 0) break;
        const give = Math.min(left, Number(out));
        // Only onto a card this channel bound (a debit made before cards belonged to channels may name another's).
        const [credited] = await manager.query<Array<{ balance: string; status: CardStatus }>>(
          `WITH u AS (
             UPDATE cards SET balance = balance + $2,
               status = CASE WHEN status = 'exhausted' THEN 'active' ELSE status END,
               frozen_from = CASE WHEN frozen_from = 'exhausted' THEN 'active' ELSE frozen_from END
             WHERE serial = $1 AND status IN ('active', 'exhausted', 'frozen') AND bound_client_id = $3
             RETURNING balance, status)
           SELECT balance::text AS balance, status FROM u`,
          [serial, give, clientId],
        );
        const card = await this.cards.bySerial(manager, serial);
        if (!card) throw new Error(`card ${serial} of debit ${debitId} is gone`);
        if (card.boundClientId !== clientId) throw CardErrors.notFound(serial);
        if (!credited) throw CardErrors.notReversible(serial, card.status);
        legs.push({ card, amount: give, balanceAfter: Number(credited.balance), status: credited.status });
        left -= give;
      }
      if (left !== 0) throw new Error(`debit ${debitId}: card legs hold less than its reversible amount`);
      await manager.query('UPDATE redemptions SET reversed_amount = reversed_amount + $2 WHERE id = $1', [
        debitId,
        amount,
      ]);
      await this.cards.record(
        manager,
        ctx,
        legs.map((leg): CardMovement => ({
          card: leg.card,
          kind: 'reverse',
          amount: leg.amount,
          balanceAfter: leg.balanceAfter,
          redemptionId: id,
          event: { type: 'card.reversed', data: { reference: dto.reference, reverses_id: debitId } },
        })),
        {
          kind: 'card_debit_reversal',
          memo: `Redemption ${id}: ${amount} fen of debit ${debitId} given back (reference ${dto.reference})`,
          enterpriseId: legs[0].card.enterpriseId,
          lines: [
            { account: LedgerAccount.RevenueRedeemed, amount },
            { account: LedgerAccount.CardFloat, amount: -amount },
          ],
        },
      );
      return this.store(manager, ctx, {
        id,
        kind: 'reverse',
        reference: dto.reference,
        fingerprint,
        enterpriseId: legs[0].card.enterpriseId,
        holderRef: debit.holder_ref,
        amount,
        reversesId: debitId,
        legs,
      });
    });
  }

  /**
   * One card, bound by this channel to this holder: a single conditional update spends it or changes nothing; then
   * the refusal is worked out.
   */
  private async debitCard(manager: EntityManager, clientId: string, serial: string, holderRef: string, amount: number) {
    // The update answers with what the movement records (enterprise, holder): no read-back on the hot path.
    const [spent] = await manager.query<
      Array<{ balance: string; status: CardStatus; holder_ref: string; enterprise_id: string }>
    >(
      `WITH u AS (
         UPDATE cards c SET balance = c.balance - $2,
           status = CASE WHEN c.balance = $2 THEN 'exhausted' ELSE c.status END
         FROM issuance_batches b
         WHERE c.serial = $1 AND b.id = c.batch_id AND c.status = 'active' AND c.balance >= $2
           AND (c.expires_at IS NULL OR c.expires_at > now()) AND c.bound_client_id = $4 AND c.holder_ref = $3
         RETURNING c.balance, c.status, c.holder_ref, b.enterprise_id)
       SELECT balance::text AS balance, status, holder_ref, enterprise_id FROM u`,
      [serial, amount, holderRef, clientId],
    );
    if (spent) {
      return {
        card: { serial, enterpriseId: spent.enterprise_id, holderRef: spent.holder_ref },
        amount,
        balanceAfter: Number(spent.balance),
        status: spent.status,
      };
    }
    // Refused: find out why, for an answer with its own code. Another channel's card, or one no channel has bound yet,
    // does not exist for this one.
    const card = await this.cards.bySerial(manager, serial);
    if (!card || card.boundClientId !== clientId) throw CardErrors.notFound(serial);
    if (card.holderRef !== holderRef) throw CardErrors.holderMismatch(serial);
    this.assertUsable(card);
    throw CardErrors.insufficientBalance(card.balance, serial);
  }

  /**
   * A holder's cards (the channel's holder: its own bindings only), locked, spent soonest expiry first (no expiry
   * last), each down to zero before the next.
   */
  private async debitHolder(
    manager: EntityManager,
    clientId: string,
    holderRef: string,
    amount: number,
  ): Promise<Leg[]> {
    const cards = await this.cards.lockHolderCards(manager, clientId, holderRef);
    if (cards.length === 0) throw CardErrors.noCardsOfHolder();
    const total = cards.reduce((sum, card) => sum + card.balance, 0);
    if (total < amount) throw CardErrors.insufficientBalance(total);
    const order = [...cards].sort(
      (a, b) =>
        (a.expiresAt?.getTime() ?? Infinity) - (b.expiresAt?.getTime() ?? Infinity) ||
        Number(BigInt(a.serial) - BigInt(b.serial)),
    );
    const legs: Leg[] = [];
    let left = amount;
    for (const card of order) {
      if (left === 0) break;
      const take = Math.min(left, card.balance);
      if (take === 0) continue;
      const balanceAfter = card.balance - take;
      const status: CardStatus = balanceAfter === 0 ? 'exhausted' : 'active';
      await manager.query('UPDATE cards SET balance = $2, status = $3 WHERE serial = $1', [
        card.serial,
        balanceAfter,
        status,
      ]);
      legs.push({ card, amount: take, balanceAfter, status });
      left -= take;
    }
    return legs;
  }

  private async store(
    manager: EntityManager,
    ctx: RequestContext,
    redemption: {
      id: string;
      kind: RedemptionKind;
      reference: string;
      fingerprint: string;
      enterpriseId: string;
      holderRef: string | null;
      amount: number;
      reversesId?: string;
      legs: Leg[];
    },
  ): Promise<RedemptionDto> {
    const response: RedemptionDto = {
      object: 'redemption',
      id: redemption.id,
      kind: redemption.kind,
      reference: redemption.reference,
      holder_ref: redemption.holderRef,
      amount: redemption.amount,
      reversed_amount: 0,
      reverses_id: redemption.reversesId ?? null,
      cards: redemption.legs.map((leg): RedemptionCardDto => ({
        serial: leg.card.serial,
        amount: leg.amount,
        balance_after: leg.balanceAfter,
        status: leg.status,
      })),
      created_at: new Date().toISOString(),
    };
    await manager.query(
      `UPDATE redemptions SET enterprise_id = $2, holder_ref = $3, amount = $4, reverses_id = $5, response = $6
       WHERE id = $1`,
      [
        redemption.id,
        redemption.enterpriseId,
        redemption.holderRef,
        redemption.amount,
        redemption.reversesId ?? null,
        response,
      ],
    );
    return response;
  }

  /** The stored answer for this client's reference (a retry), or null; another request under it is refused. */
  private async replay(
    manager: EntityManager,
    clientId: string,
    reference: string,
    fingerprint: string,
  ): Promise<RedemptionDto | null> {
    const [row] = await manager.query<Array<{ id: string; fingerprint: string; response: RedemptionDto }>>(
      'SELECT id, fingerprint, response FROM redemptions WHERE client_id = $1 AND reference = $2',
      [clientId, reference],
    );
    if (!row) return null;
    if (row.fingerprint !== fingerprint) throw CardErrors.referenceReused(reference);
    if (row.response.kind !== 'debit') return row.response;
    // A debit's reversals may have moved on since: answer with today's figure.
    const [current] = await manager.query<Array<{ reversed: string }>>(
      'SELECT reversed_amount::text AS reversed FROM redemptions WHERE id = $1',
      [row.id],
    );
    return { ...row.response, reversed_amount: Number(current.reversed) };
  }

  /**
   * Claims the client's reference for this request by inserting its redemption row first (completed by `store`
   * before the commit): null when claimed. A second request with the reference waits on the unique index until the
   * first commits (then it gets the stored answer, or 422 for another request) or rolls back (then it claims it).
   */
  private async claim(
    manager: EntityManager,
    id: string,
    clientId: string,
    reference: string,
    kind: RedemptionKind,
    fingerprint: string,
  ): Promise<RedemptionDto | null> {
    const claimed = await manager.query<Array<{ id: string }>>(
      `WITH c AS (
         INSERT INTO redemptions (id, client_id, reference, kind, fingerprint, enterprise_id, amount, response)
         VALUES ($1, $2, $3, $4, $5, '', 0, '{}') ON CONFLICT (client_id, reference) DO NOTHING RETURNING id)
       SELECT id FROM c`,
      [id, clientId, reference, kind, fingerprint],
    );
    if (claimed.length > 0) return null;
    const replayed = await this.replay(manager, clientId, reference, fingerprint);
    if (!replayed) throw new Error(`reference ${reference} conflicts but its redemption is not visible`);
    return replayed;
  }

  /**
   * A wrong PIN, counted on the card whatever the channel (its row lock serialises concurrent ones): the one that
   * reaches REDEMPTION_CARD_PIN_FAILURE_LIMIT freezes the card, announced as card.frozen with reason pin_attempts,
   * until its enterprise or the operator unfreezes it. Committed on its own: the request itself fails.
   */
  private async countWrongPin(ctx: RequestContext, serial: string): Promise<void> {
    const frozen = await this.transactions.run(ctx, async (manager) => {
      const [counted] = await manager.query<Array<{ failures: number }>>(
        'WITH u AS (UPDATE cards SET pin_failures = pin_failures + 1 WHERE serial = $1 RETURNING pin_failures) SELECT pin_failures AS failures FROM u',
        [serial],
      );
      if (!counted || counted.failures < this.config.REDEMPTION_CARD_PIN_FAILURE_LIMIT) return false;
      const card = await this.cards.bySerial(manager, serial, true);
      if (!card || !(FREEZABLE_STATUSES as readonly CardStatus[]).includes(card.status) || isPastExpiry(card)) {
        return false;
      }
      await manager.query("UPDATE cards SET status = 'frozen', frozen_from = $2 WHERE serial = $1", [
        serial,
        card.status,
      ]);
      await this.cards.record(manager, ctx, [
        {
          card,
          kind: 'freeze',
          amount: 0,
          balanceAfter: card.balance,
          event: { type: 'card.frozen', data: { reason: 'pin_attempts' } },
        },
      ]);
      return true;
    });
    if (frozen) {
      this.limiter.countCardFrozen();
      this.logger.warn({ msg: 'card frozen after too many wrong PINs', serial });
    }
  }

  private clientOf(ctx: RequestContext): string {
    const clientId = ctx.clientId;
    if (!clientId) throw ApiError.forbidden('client_required', 'Redemptions are made by an API client');
    return clientId;
  }

  /** Gone cards (voided, expired, lost, replaced, refunded) and frozen ones are refused; so is one past expiry. */
  private assertUsable(card: CardRow): void {
    const refusal = CardErrors.unusable(card.serial, card.status);
    if (refusal) throw refusal;
    if (isPastExpiry(card)) throw CardErrors.unusable(card.serial, 'expired')!;
  }

  /**
   * The PIN by its stored digest, else from the sealed envelope (cards minted before digests existed). A card with
   * neither (an envelope purged before digests existed) cannot be checked, so it cannot be bound.
   */
  private pinIsCorrect(card: CardRow, pin: string): boolean {
    if (card.pinHash) return this.secrets.pinDigestMatches(card.serial, pin, card.pinHash, card.codeKeyId);
    if (card.secretCiphertext) return pinMatches(this.secrets.open(card.serial, card.secretCiphertext).pin, pin);
    this.logger.warn({ msg: 'card has neither PIN digest nor envelope: cannot check its PIN', serial: card.serial });
    return false;
  }

  /** A registered card's real-name data is its order's purchaser identity: name, document type and number. */
  private async identityMatches(card: CardRow, identity: HolderIdentityDto): Promise<boolean> {
    const [order] = await this.dataSource.query<Array<{ purchaser_ciphertext: string | null }>>(
      'SELECT purchaser_ciphertext FROM orders WHERE id = $1',
      [card.orderId],
    );
    if (!order?.purchaser_ciphertext) return false;
    const onRecord = parsePurchaser(
      this.cipher.decrypt(order.purchaser_ciphertext, `orders.purchaser:${card.orderId}`),
    );
    return (
      onRecord.name.trim() === identity.name.trim() &&
      onRecord.id_type === identity.id_type &&
      normaliseIdNumber(onRecord.id_number) === normaliseIdNumber(identity.id_number)
    );
  }
}
