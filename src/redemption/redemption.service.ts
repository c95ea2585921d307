import { isIP } from 'node:net';
import { Injectable, Logger } from '@nestjs/common';
import { sha256Hex } from '../common/canonical-json';
import type { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import { newId } from '../common/ids';
import { TransactionService } from '../database/transaction.service';
import { AuditService } from '../audit/audit.service';
import { parseCode, isValidSerial, pinMatches } from '../cards/card-code';
import { CardSecrets } from '../cards/card-secrets';
import type { CardStatus } from '../cards/card.entity';
import { LedgerAccount } from '../ledger/ledger.entity';
import { normaliseIdNumber, parsePurchaser } from '../orders/purchaser-identity';
import { CardErrors } from '../cards/card-errors';
import {
  auditEntryOf,
  CardMovements,
  cardEventData,
  cardTransactionRow,
  isPastExpiry,
  type CardMovement,
} from '../cards/card-movements';
import { CardsRepository, type CardRow, type HolderCardRow } from '../cards/cards.repository';
import { OrdersRepository } from '../orders/orders.repository';
import type { LedgerPosting } from '../ledger/ledger-posting';
import { FREEZABLE_STATUSES } from '../cards/card-rules';
import { AppConfig } from '../config/app-config';
import { RiskService, type RiskHit, type RiskSubject } from '../risk/risk.service';
import { RISK_RULES, type EffectiveRule } from '../risk/risk-rules';
import { AttemptLimiter, type AttemptSource, type EndUser } from './attempt-limiter';
import type {
  BindCardDto,
  CardVerificationDto,
  DebitDto,
  EndUserDto,
  HolderIdentityDto,
  PaymentCodeDto,
  PaymentCodeRequestDto,
  RedemptionCardDto,
  RedemptionDto,
  ReverseDto,
  VerifyCardDto,
} from './dto/redemption.dto';
import type { RedemptionKind } from './redemption.entity';
import { matchPaymentCode, parsePaymentCode, paymentCodeStep, refusalOf } from './payment-code';
import { PaymentCodeKeys, paymentCodeAnswer } from './payment-code-keys';
import {
  RedemptionRepository,
  ReferenceTaken,
  type PaymentCodeUse,
  type SerialDebitStatement,
} from './redemption.repository';

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

/** A debit as asked: by serial, or of the holder's cards. */
export interface DebitRequest {
  clientId: string;
  reference: string;
  fingerprint: string;
  holderRef: string;
  amount: number;
  /** The end user's IP the channel sent (end_user.ip or X-End-User-IP): recorded on the movements, counted by the IP rules. */
  endUserIp: string | null;
}

/** A debit's journal entry: spent value leaves the float for redeemed revenue. */
function debitPosting(id: string, enterpriseId: string, amount: number, reference: string): LedgerPosting {
  return {
    kind: 'card_debit',
    memo: `Redemption ${id}: ${amount} fen spent (reference ${reference})`,
    enterpriseId,
    lines: [
      { account: LedgerAccount.CardFloat, amount },
      { account: LedgerAccount.RevenueRedeemed, amount: -amount },
    ],
  };
}

/**
 * Everything a debit by serial writes, as RedemptionRepository.debitBySerial composes it into one statement (and
 * bench/redemption.ts runs it under pgbench). The answer's `cards` and the event's balance_after are the statement's
 * to add; the audit record leaves the balance after out (the card_transactions row holds it).
 */
export function serialDebitStatement(
  debit: DebitRequest & {
    serial: string;
    enterpriseId: string;
    id: string;
    entryId: string;
    requestId: string | null;
    createdAt: Date;
  },
): SerialDebitStatement {
  const { id, serial, enterpriseId, clientId, reference, amount, holderRef, entryId, endUserIp } = debit;
  const posting = debitPosting(id, enterpriseId, amount, reference);
  const movement: CardMovement = {
    card: { serial, enterpriseId, holderRef },
    kind: 'debit',
    amount: -amount,
    balanceAfter: 0,
    redemptionId: id,
    event: { type: 'card.debited', data: { reference } },
  };
  return {
    debit: { serial, amount, holderRef, clientId, redemptionId: id, enterpriseId, endUserIp },
    redemption: {
      id,
      clientId,
      reference,
      kind: 'debit',
      fingerprint: debit.fingerprint,
      enterpriseId,
      holderRef,
      amount,
      reversesId: null,
      response: {
        object: 'redemption',
        id,
        kind: 'debit',
        reference,
        holder_ref: holderRef,
        amount,
        reversed_amount: 0,
        reverses_id: null,
        created_at: debit.createdAt.toISOString(),
      },
    },
    posting,
    entry: { ...posting, id: entryId, enterpriseId, orderId: null, paymentId: null, requestId: debit.requestId },
    event: { enterpriseId, type: 'card.debited', data: cardEventData(movement, { balance: false }) },
    audit: auditEntryOf([movement], posting, entryId, undefined, { balances: false }),
  };
}

/** The rules a debit counts on each card it spends (src/risk/), as they apply to the card's enterprise and channel. */
interface DebitRules {
  debits: EffectiveRule;
  ips: EffectiveRule;
  subnets: EffectiveRule;
}

const blocks = (rule: EffectiveRule) => rule.enabled && rule.action === 'block';

interface Leg {
  card: Pick<CardRow, 'serial' | 'enterpriseId' | 'holderRef'>;
  amount: number;
  balanceAfter: number;
  status: CardStatus;
}

/** A holder-wide debit refused by a fraud rule whose action is block (its transaction rolls back). */
class RiskRefusal extends Error {
  override readonly name = 'RiskRefusal';
  constructor(readonly hit: RiskHit) {
    super(`refused by the fraud rule ${hit.rule.rule}`);
  }
}

/** Cards whose enterprise this process remembers (a card's batch, so its enterprise, never changes). */
const ENTERPRISES_REMEMBERED = 100_000;

/**
 * The redemption channel (README, redemption): verify a code, bind a card to a holder, debit and reverse. Every call
 * is idempotent by the channel's reference (unique per client, claimed by the redemption row): a retry gets the
 * stored answer, another request under a used reference is refused. Balances change only through conditional
 * updates or locked rows (the CHECK keeps 0 ≤ balance ≤ face value whatever happens), and each movement writes its
 * card_transactions row, its ledger entry, its event and its audit record with it, atomically.
 *
 * A debit by serial is one statement (docs/architecture.md, single-statement hot paths): RedemptionRepository
 * .debitBySerial composes every owner's part; a refused or duplicate one then takes the reads that explain it.
 */
@Injectable()
export class RedemptionService {
  private readonly logger = new Logger(RedemptionService.name);
  /** serial → enterprise id: the debit's ledger entry and audit record name the enterprise before the statement. */
  private readonly enterprises = new Map<string, string>();

  constructor(
    private readonly transactions: TransactionService,
    private readonly secrets: CardSecrets,
    private readonly cipher: DataCipher,
    private readonly limiter: AttemptLimiter,
    private readonly cards: CardMovements,
    private readonly cardRows: CardsRepository,
    private readonly redemptions: RedemptionRepository,
    private readonly orders: OrdersRepository,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
    private readonly paymentKeys: PaymentCodeKeys,
    private readonly risk: RiskService,
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
    const card = await this.cardRows.byCodeIndex(ctx, this.secrets.blindIndexCandidates(code));
    if (!card) {
      await this.limiter.recordFailure(ctx, source);
      throw CardErrors.invalidCredentials();
    }
    this.remember(card);
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
    const replayed = await this.replay(ctx, clientId, dto.reference, fingerprint);
    if (replayed) return replayed;

    const card = await this.cardRows.byCodeIndex(ctx, this.secrets.blindIndexCandidates(code));
    if (!card) {
      await this.limiter.recordFailure(ctx, source);
      throw CardErrors.invalidCredentials();
    }
    this.remember(card);
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
      if (!(await this.identityMatches(ctx, card, dto.holder_identity))) {
        await this.limiter.recordFailure(ctx, source);
        throw CardErrors.holderIdentityMismatch(card.serial);
      }
    }

    // Fraud rules on binds (src/risk/): counted before the bind, this one included; a block refuses it here.
    const riskSubject: RiskSubject = {
      serial: card.serial,
      enterpriseId: card.enterpriseId,
      orderId: card.orderId,
      holderRef: dto.holder_ref,
      clientId,
      endUserIp: source.endUser?.ip ?? null,
    };
    const riskHits = await this.bindRiskHits(ctx, riskSubject);
    const blocking = riskHits.find((hit) => hit.rule.action === 'block');
    if (blocking) {
      await this.risk.raise(ctx, riskSubject, riskHits);
      throw RiskService.blocked(blocking);
    }

    // The bind in one statement; a card that is not bindable (any more) is worked out in a transaction below.
    const id = newId('redemption');
    const bound = { ...card, holderRef: dto.holder_ref, boundClientId: clientId };
    const movement: CardMovement = {
      card: bound,
      kind: 'bind',
      amount: 0,
      balanceAfter: card.balance,
      redemptionId: id,
      endUserIp: riskSubject.endUserIp,
      event: { type: 'card.bound', data: { reference: dto.reference } },
    };
    const response = this.answer({
      id,
      kind: 'bind',
      reference: dto.reference,
      holderRef: dto.holder_ref,
      amount: 0,
      legs: [{ card: bound, amount: 0, balanceAfter: card.balance, status: 'active' }],
    });
    const result = await this.redemptions.bindCard(ctx, {
      bind: {
        serial: card.serial,
        balance: card.balance,
        holderRef: dto.holder_ref,
        clientId,
        redemptionId: id,
        enterpriseId: card.enterpriseId,
        endUserIp: riskSubject.endUserIp ?? null,
      },
      redemption: {
        id,
        clientId,
        reference: dto.reference,
        kind: 'bind',
        fingerprint,
        enterpriseId: card.enterpriseId,
        holderRef: dto.holder_ref,
        amount: 0,
        reversesId: null,
        response,
      },
      event: { enterpriseId: card.enterpriseId, type: 'card.bound', data: cardEventData(movement) },
      audit: auditEntryOf([movement], undefined, null, undefined),
    });
    if (result.outcome === 'bound') {
      await this.sealAudit(result.auditId);
      await this.risk.raise(ctx, riskSubject, riskHits);
      return response;
    }
    if (result.outcome === 'duplicate') {
      const replayedNow = await this.replay(ctx, clientId, dto.reference, fingerprint);
      if (!replayedNow) throw new Error(`reference ${dto.reference} conflicts but its redemption is not visible`);
      return replayedNow;
    }
    let boundNow = false;
    const answered = await this.transactions.run(ctx, async () => {
      const again = await this.claim(ctx, id, clientId, dto.reference, 'bind', fingerprint);
      if (again) return again;
      // First bind wins, for its channel and holder: only an unbound, unexpired card changes; every later bind finds
      // it taken. The count of wrong PINs starts again from the right one.
      const balance = await this.cardRows.bind(ctx, card.serial, dto.holder_ref, clientId);
      if (balance === null) {
        const current = await this.cardRows.bySerial(ctx, card.serial, true);
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
        return this.store(ctx, {
          id,
          clientId,
          kind: 'bind',
          reference: dto.reference,
          fingerprint,
          enterpriseId: current.enterpriseId,
          holderRef: dto.holder_ref,
          amount: 0,
          legs: [{ card: current, amount: 0, balanceAfter: current.balance, status: current.status }],
        });
      }
      const boundCard = { ...card, holderRef: dto.holder_ref, boundClientId: clientId };
      boundNow = true;
      await this.cards.record(ctx, [
        {
          card: boundCard,
          kind: 'bind',
          amount: 0,
          balanceAfter: balance,
          redemptionId: id,
          endUserIp: riskSubject.endUserIp,
          event: { type: 'card.bound', data: { reference: dto.reference } },
        },
      ]);
      return this.store(ctx, {
        id,
        clientId,
        kind: 'bind',
        reference: dto.reference,
        fingerprint,
        enterpriseId: card.enterpriseId,
        holderRef: dto.holder_ref,
        amount: 0,
        legs: [{ card: boundCard, amount: 0, balanceAfter: balance, status: 'active' }],
      });
    });
    if (boundNow) await this.risk.raise(ctx, riskSubject, riskHits);
    return answered;
  }

  /** The bind rules' hits for this bind (its own count included). */
  private async bindRiskHits(ctx: RequestContext, subject: RiskSubject): Promise<RiskHit[]> {
    const scope = { enterpriseId: subject.enterpriseId, clientId: subject.clientId };
    const [holder, channel, order, ips] = await Promise.all([
      this.risk.rule(ctx, 'binds_per_holder_hour', scope),
      this.risk.rule(ctx, 'binds_per_channel_day', scope),
      this.risk.rule(ctx, 'order_cards_to_one_holder', scope),
      this.risk.rule(ctx, 'end_user_ips_per_card_hour', scope),
    ]);
    const endUserIp = subject.endUserIp ?? null;
    if (!holder.enabled && !channel.enabled && !order.enabled && !(ips.enabled && endUserIp)) return [];
    const figures = await this.cardRows.bindFigures(
      ctx,
      {
        clientId: subject.clientId!,
        holderRef: subject.holderRef!,
        orderId: subject.orderId!,
        serial: subject.serial,
        endUserIp: ips.enabled ? endUserIp : null,
      },
      {
        holderWindowS: holder.windowSeconds!,
        channelWindowS: channel.windowSeconds!,
        orderWindowS: order.windowSeconds!,
        ipsWindowS: ips.windowSeconds!,
      },
    );
    return this.risk.hits([
      { rule: holder, count: figures.holderBinds + 1 },
      { rule: channel, count: figures.channelBinds + 1 },
      { rule: order, count: figures.orderBindsToHolder + 1 },
      ...(figures.endUserIps === null ? [] : [{ rule: ips, count: figures.endUserIps }]),
    ]);
  }

  async debit(ctx: RequestContext, dto: DebitDto, endUserIpHeader?: string): Promise<RedemptionDto> {
    const endUserIp = endUserOf(dto.end_user, endUserIpHeader).ip ?? null;
    if (dto.payment_code !== undefined) {
      if (dto.serial !== undefined || dto.holder_ref !== undefined) {
        throw ApiError.validation([
          { field: 'payment_code', message: 'payment_code replaces serial and holder_ref: give one or the other' },
        ]);
      }
      return this.debitByPaymentCode(ctx, dto.payment_code, dto.amount, dto.reference, endUserIp);
    }
    if (dto.serial !== undefined && !isValidSerial(dto.serial)) throw CardErrors.notFound(dto.serial);
    const clientId = this.clientOf(ctx);
    const holderRef = dto.holder_ref!;
    const fingerprint = sha256Hex(`debit\n${dto.serial ?? ''}\n${holderRef}\n${dto.amount}`);
    const debit = { clientId, reference: dto.reference, fingerprint, holderRef, amount: dto.amount, endUserIp };
    return dto.serial !== undefined
      ? this.debitBySerial(ctx, { ...debit, serial: dto.serial })
      : this.debitHolder(ctx, debit);
  }

  /**
   * A dynamic payment code for a card this channel bound to the holder, or for the holder's wallet (docs/decisions
   * /0010): the key's code for the current window and its count of uses. Asking again in the same window gives the
   * same code until it is spent.
   */
  async paymentCode(ctx: RequestContext, dto: PaymentCodeRequestDto): Promise<PaymentCodeDto> {
    const clientId = this.clientOf(ctx);
    if (dto.serial !== undefined) {
      if (!isValidSerial(dto.serial)) throw CardErrors.notFound(dto.serial);
      const card = await this.cardRows.bySerial(ctx, dto.serial);
      if (!card || card.boundClientId !== clientId) throw CardErrors.notFound(dto.serial);
      if (card.holderRef !== dto.holder_ref) throw CardErrors.holderMismatch(dto.serial);
      this.assertUsable(card);
      this.remember(card);
    } else if (!(await this.cardRows.holderHasSpendableCards(ctx, clientId, dto.holder_ref))) {
      throw CardErrors.noCardsOfHolder();
    }
    const key = await this.paymentKeys.keyOf(ctx, { clientId, holderRef: dto.holder_ref, serial: dto.serial ?? null });
    return paymentCodeAnswer(key, this.config.PAYMENT_CODE_WINDOW_SECONDS);
  }

  /**
   * A debit by payment code: the code names its key, hence its card (one statement, as a debit by serial, with the
   * key's compare-and-set in it) or its wallet (the holder's cards, with the code spent in the same transaction).
   * Accepted for the window it was made in and the next one, while the key's count of uses is the one it was made
   * for: spent once, never again. A refused code is answered from the stored redemption when the reference was
   * this same request's (a retry).
   */
  private async debitByPaymentCode(
    ctx: RequestContext,
    paymentCode: string,
    amount: number,
    reference: string,
    endUserIp: string | null,
  ): Promise<RedemptionDto> {
    const clientId = this.clientOf(ctx);
    // The code itself is never stored: its digest stands for it in the fingerprint.
    const fingerprint = sha256Hex(`debit\npayment_code\n${sha256Hex(paymentCode)}\n${amount}`);
    const refuse = async (refusal: ApiError): Promise<RedemptionDto> => {
      const replayed = await this.replay(ctx, clientId, reference, fingerprint);
      if (replayed) return replayed;
      throw refusal;
    };
    const parsed = parsePaymentCode(paymentCode);
    let key = parsed ? await this.paymentKeys.byNumber(ctx, parsed.keyNumber) : null;
    // Another channel's code is no code for this one.
    if (!parsed || !key || key.clientId !== clientId) {
      await this.limiter.recordFailure(ctx, { clientId, ip: ctx.ip });
      return refuse(CardErrors.paymentCodeInvalid());
    }
    const step = paymentCodeStep(Date.now(), this.config.PAYMENT_CODE_WINDOW_SECONDS);
    let window = matchPaymentCode(key.secret, parsed.otp, key.uses, step);
    if (!window) {
      // Another process may have spent a code of this key since this one read it: read its count again.
      key = (await this.paymentKeys.byNumber(ctx, parsed.keyNumber, true))!;
      window = matchPaymentCode(key.secret, parsed.otp, key.uses, step);
    }
    if (!window) {
      const why = refusalOf(key.secret, parsed.otp, key.uses, step);
      if (why === 'invalid') await this.limiter.recordFailure(ctx, { clientId, ip: ctx.ip });
      return refuse(
        why === 'used'
          ? CardErrors.paymentCodeUsed()
          : why === 'expired'
            ? CardErrors.paymentCodeExpired()
            : CardErrors.paymentCodeInvalid(),
      );
    }
    const use: PaymentCodeUse = { keyNumber: key.number, uses: key.uses, clientId };
    const debit = { clientId, reference, fingerprint, holderRef: key.holderRef, amount, endUserIp };
    const answer =
      key.serial !== null
        ? await this.debitBySerial(ctx, { ...debit, serial: key.serial }, use)
        : await this.debitHolder(ctx, debit, use);
    this.paymentKeys.spent(key, use.uses);
    return answer;
  }

  /**
   * Gives back (part of) a debit, last-spent card first: in one transaction, the lock of the debit, what its cards
   * still have out, one conditional credit per card, then ONE statement of every write (the reversal's redemption row,
   * the debit's reversed amount, the movements, the journal entry, the events, the audit record).
   */
  async reverse(ctx: RequestContext, debitId: string, dto: ReverseDto): Promise<RedemptionDto> {
    const clientId = this.clientOf(ctx);
    const fingerprint = sha256Hex(`reverse\n${debitId}\n${dto.amount ?? ''}`);
    // A retry is answered before the debit is locked, as it always was (its reversal may have used it all up).
    const replayed = await this.replay(ctx, clientId, dto.reference, fingerprint);
    if (replayed) return replayed;
    let written: { response: RedemptionDto; auditId: string | null };
    try {
      written = await this.transactions.run(
        ctx,
        async (): Promise<{ response: RedemptionDto; auditId: string | null }> => {
          const id = newId('redemption');
          // The debit row is the lock that serialises reversals of one debit.
          const debit = await this.redemptions.lockDebit(ctx, debitId, clientId);
          if (!debit) throw ApiError.notFound('debit', debitId);
          const reversible = debit.amount - debit.reversedAmount;
          const amount = dto.amount ?? reversible;
          if (amount > reversible || amount <= 0) {
            // The same reversal, made meanwhile under this reference (it held the debit's lock): its stored answer.
            const done = await this.replay(ctx, clientId, dto.reference, fingerprint);
            if (done) return { response: done, auditId: null };
            throw CardErrors.reversalExceedsDebit(reversible);
          }

          // What each card of the debit still has out: its debit legs net of earlier reversals, last spent first.
          const outstanding = await this.cardRows.outstanding(ctx, [debitId, ...debit.reversalIds]);
          const legs: Leg[] = [];
          let left = amount;
          for (const { serial, out } of outstanding) {
            if (left === 0) break;
            const give = Math.min(left, out);
            // Only onto a card this channel bound (a debit made before cards belonged to channels may name another's).
            const credited = await this.cardRows.credit(ctx, serial, give, clientId);
            if (!credited) {
              const card = await this.cardRows.bySerial(ctx, serial);
              if (!card) throw new Error(`card ${serial} of debit ${debitId} is gone`);
              if (card.boundClientId !== clientId) throw CardErrors.notFound(serial);
              throw CardErrors.notReversible(serial, card.status);
            }
            const card = { serial, enterpriseId: credited.enterpriseId, holderRef: credited.holderRef };
            legs.push({ card, amount: give, balanceAfter: credited.balance, status: credited.status });
            left -= give;
          }
          if (left !== 0) throw new Error(`debit ${debitId}: card legs hold less than its reversible amount`);
          const enterpriseId = legs[0].card.enterpriseId;
          const posting: LedgerPosting = {
            kind: 'card_debit_reversal',
            memo: `Redemption ${id}: ${amount} fen of debit ${debitId} given back (reference ${dto.reference})`,
            enterpriseId,
            lines: [
              { account: LedgerAccount.RevenueRedeemed, amount },
              { account: LedgerAccount.CardFloat, amount: -amount },
            ],
          };
          const entryId = newId('journalEntry');
          const movements = legs.map((leg): CardMovement => ({
            card: leg.card,
            kind: 'reverse',
            amount: leg.amount,
            balanceAfter: leg.balanceAfter,
            redemptionId: id,
            event: { type: 'card.reversed', data: { reference: dto.reference, reverses_id: debitId } },
          }));
          const response = this.answer({
            id,
            kind: 'reverse',
            reference: dto.reference,
            holderRef: debit.holderRef,
            amount,
            reversesId: debitId,
            legs,
          });
          const { auditId } = await this.redemptions.debitHolder(ctx, {
            legs: [],
            movements: movements.map((movement) => cardTransactionRow(ctx, movement)),
            redemption: {
              id,
              clientId,
              reference: dto.reference,
              kind: 'reverse',
              fingerprint,
              enterpriseId,
              holderRef: debit.holderRef,
              amount,
              reversesId: debitId,
              response,
            },
            posting,
            entry: { ...posting, id: entryId, enterpriseId, orderId: null, paymentId: null, requestId: ctx.requestId },
            events: movements.map((movement) => ({
              enterpriseId: movement.card.enterpriseId,
              type: 'card.reversed' as const,
              data: cardEventData(movement),
            })),
            audit: auditEntryOf(movements, posting, entryId, undefined),
            reverses: { debitId, amount },
          });
          return { response, auditId };
        },
      );
    } catch (error) {
      if (!(error instanceof ReferenceTaken)) throw error;
      const again = await this.replay(ctx, clientId, dto.reference, fingerprint);
      if (!again) {
        throw new Error(`reference ${dto.reference} conflicts but its redemption is not visible`, { cause: error });
      }
      return again;
    }
    if (written.auditId) await this.sealAudit(written.auditId);
    return written.response;
  }

  /**
   * One card, bound by this channel to this holder: ONE statement spends it and writes everything the debit writes
   * (or nothing, when the card refuses). A duplicate reference rolls that statement back and is answered from the
   * stored redemption; a refusal is then worked out by the reads that explain it. The audit record the statement
   * wrote is sealed into the chain once it has committed, as AuditService.append's are.
   */
  private async debitBySerial(
    ctx: RequestContext,
    debit: DebitRequest & { serial: string },
    paymentCode?: PaymentCodeUse,
  ): Promise<RedemptionDto> {
    const { serial, clientId, reference, amount } = debit;
    let enterpriseId = this.enterprises.get(serial);
    if (enterpriseId === undefined) {
      // Not seen by this process yet: one read (then remembered), which also answers a card that does not exist.
      const known = await this.cardRows.bySerial(ctx, serial);
      if (!known) {
        const replayed = await this.replay(ctx, clientId, reference, debit.fingerprint);
        if (replayed) return replayed;
        throw CardErrors.notFound(serial);
      }
      this.remember(known);
      enterpriseId = known.enterpriseId;
    }
    const statement = serialDebitStatement({
      ...debit,
      serial,
      enterpriseId,
      id: newId('redemption'),
      entryId: newId('journalEntry'),
      requestId: ctx.requestId,
      createdAt: new Date(),
    });
    if (paymentCode) statement.paymentCode = paymentCode;
    // The fraud rules on the card's debits and end-user IPs are counted in the statement; a block refuses there.
    const rules = await this.debitRules(ctx, { enterpriseId, clientId });
    if (rules.debits.enabled) {
      statement.recentDebits = {
        windowSeconds: rules.debits.windowSeconds!,
        refuseFrom: blocks(rules.debits) ? rules.debits.threshold - 1 : null,
      };
    }
    const endUserIp = debit.endUserIp;
    if (endUserIp && (rules.ips.enabled || rules.subnets.enabled)) {
      statement.endUserIps = {
        ip: endUserIp,
        ipsWindowSeconds: rules.ips.windowSeconds!,
        subnetsWindowSeconds: rules.subnets.windowSeconds!,
        refuseIpsFrom: blocks(rules.ips) ? rules.ips.threshold : null,
        refuseSubnetsFrom: blocks(rules.subnets) ? rules.subnets.threshold : null,
      };
    }
    const answer = statement.redemption.response;
    const result = await this.redemptions.debitBySerial(ctx, statement);
    if (result.outcome === 'debited') {
      await this.sealAudit(result.auditId);
      const hits = this.debitHits(rules, {
        recentDebits: result.recentDebits,
        endUserIps: result.endUserIps,
        awaySubnets: result.awaySubnets,
      });
      const subject = { serial, enterpriseId, orderId: null, holderRef: debit.holderRef, clientId, endUserIp };
      await this.risk.raise(ctx, subject, hits);
      return {
        ...answer,
        cards: [{ serial, amount: -amount, balance_after: result.balance, status: result.status }],
      };
    }
    const replayed = await this.replay(ctx, clientId, reference, debit.fingerprint);
    if (replayed) return replayed;
    if (result.outcome === 'duplicate')
      throw new Error(`reference ${reference} conflicts but its redemption is not visible`);
    if (paymentCode) {
      // A concurrent debit spent the code first (the statement found the key's count moved on).
      const key = await this.paymentKeys.byNumber(ctx, paymentCode.keyNumber, true);
      if (!key || key.uses !== paymentCode.uses) throw CardErrors.paymentCodeUsed();
    }
    throw await this.debitRefusal(ctx, debit, rules);
  }

  /** The debit rules as they apply to a card of this enterprise debited through this channel. */
  private async debitRules(
    ctx: RequestContext,
    scope: { enterpriseId: string; clientId: string },
  ): Promise<DebitRules> {
    const [debits, ips, subnets] = await Promise.all([
      this.risk.rule(ctx, 'debits_per_card_minute', scope),
      this.risk.rule(ctx, 'end_user_ips_per_card_hour', scope),
      this.risk.rule(ctx, 'debit_subnets_away_from_bind', scope),
    ]);
    return { debits, ips, subnets };
  }

  /**
   * The debit rules' hits on one card: its debits before this one (null: not counted), its distinct end-user IPs and
   * subnets away from its bind's, this debit's included (null: no IP sent, or not counted).
   */
  private debitHits(
    rules: DebitRules,
    figures: { recentDebits: number | null; endUserIps: number | null; awaySubnets: number | null },
  ): RiskHit[] {
    return this.risk.hits([
      ...(figures.recentDebits === null ? [] : [{ rule: rules.debits, count: figures.recentDebits + 1 }]),
      ...(figures.endUserIps === null ? [] : [{ rule: rules.ips, count: figures.endUserIps }]),
      ...(figures.awaySubnets === null ? [] : [{ rule: rules.subnets, count: figures.awaySubnets }]),
    ]);
  }

  /**
   * A holder's cards (the channel's holder: its own bindings only), locked, spent soonest expiry first (no expiry
   * last), each down to zero before the next: two statements in one transaction, the lock and then every write.
   */
  private async debitHolder(
    ctx: RequestContext,
    debit: DebitRequest,
    paymentCode?: PaymentCodeUse,
  ): Promise<RedemptionDto> {
    const { clientId, reference, amount, holderRef, endUserIp } = debit;
    let written: { response: RedemptionDto; auditId: string | null };
    // The fraud rules' hits on each card spent: raised once the debit committed, or before it is refused (block).
    let legHits: Array<{ subject: RiskSubject; hits: RiskHit[] }> = [];
    try {
      written = await this.transactions.run(ctx, async () => {
        // A wallet's payment code is spent first, in the debit's transaction: a refused debit gives it back.
        if (paymentCode && !(await this.redemptions.spendPaymentCode(ctx, paymentCode))) {
          const replayed = await this.replay(ctx, clientId, reference, debit.fingerprint);
          if (replayed) return { response: replayed, auditId: null as string | null };
          throw CardErrors.paymentCodeUsed();
        }
        // Each card's figures of the debit rules are read with its lock (their windows are the rules' own: settings
        // change thresholds and actions, not windows).
        const cards = await this.cardRows.lockHolderCards(ctx, clientId, holderRef, {
          debitsWindowSeconds: RISK_RULES.debits_per_card_minute.windowSeconds,
          endUserIps: endUserIp
            ? {
                ip: endUserIp,
                ipsWindowSeconds: RISK_RULES.end_user_ips_per_card_hour.windowSeconds,
                subnetsWindowSeconds: RISK_RULES.debit_subnets_away_from_bind.windowSeconds,
              }
            : null,
        });
        cards.forEach((card) => this.remember(card));
        const total = cards.reduce((sum, card) => sum + card.balance, 0);
        if (cards.length === 0 || total < amount) {
          // A retry of a debit that spent these cards finds them spent: it gets the stored answer.
          const replayed = await this.replay(ctx, clientId, reference, debit.fingerprint);
          if (replayed) return { response: replayed, auditId: null as string | null };
          throw cards.length === 0 ? CardErrors.noCardsOfHolder() : CardErrors.insufficientBalance(total);
        }
        const order = [...cards].sort(
          (a, b) =>
            (a.expiresAt?.getTime() ?? Infinity) - (b.expiresAt?.getTime() ?? Infinity) ||
            Number(BigInt(a.serial) - BigInt(b.serial)),
        );
        const id = newId('redemption');
        const legs: Array<Leg & { from: CardStatus }> = [];
        let left = amount;
        for (const card of order) {
          if (left === 0) break;
          const take = Math.min(left, card.balance);
          if (take === 0) continue;
          const balanceAfter = card.balance - take;
          legs.push({
            card,
            from: card.status,
            amount: take,
            balanceAfter,
            status: balanceAfter === 0 ? 'exhausted' : 'active',
          });
          left -= take;
        }
        // The debit rules on each card it spends, as a debit by serial counts them; a block refuses the whole debit.
        legHits = [];
        for (const leg of legs) {
          const figures = (leg.card as HolderCardRow).riskFigures;
          if (!figures) continue;
          const rules = await this.debitRules(ctx, { enterpriseId: leg.card.enterpriseId, clientId });
          const hits = this.debitHits(rules, figures);
          if (hits.length === 0) continue;
          const card = leg.card as HolderCardRow;
          legHits.push({
            subject: {
              serial: card.serial,
              enterpriseId: card.enterpriseId,
              orderId: card.orderId,
              holderRef,
              clientId,
              endUserIp,
            },
            hits,
          });
        }
        const blocking = legHits.flatMap((leg) => leg.hits).find((hit) => hit.rule.action === 'block');
        if (blocking) throw new RiskRefusal(blocking);
        const enterpriseId = legs[0].card.enterpriseId;
        const posting = debitPosting(id, enterpriseId, amount, reference);
        const entryId = newId('journalEntry');
        const movements = legs.map((leg): CardMovement => ({
          card: leg.card,
          kind: 'debit',
          amount: -leg.amount,
          balanceAfter: leg.balanceAfter,
          redemptionId: id,
          endUserIp,
          event: { type: 'card.debited', data: { reference } },
        }));
        const response = this.answer({
          id,
          kind: 'debit',
          reference,
          holderRef,
          amount,
          legs: legs.map((leg) => ({ ...leg, amount: -leg.amount })),
        });
        const { auditId } = await this.redemptions.debitHolder(ctx, {
          legs: legs.map((leg) => ({
            serial: leg.card.serial,
            from: leg.from,
            balance: leg.balanceAfter,
            status: leg.status,
          })),
          movements: movements.map((movement) => cardTransactionRow(ctx, movement)),
          redemption: {
            id,
            clientId,
            reference,
            kind: 'debit',
            fingerprint: debit.fingerprint,
            enterpriseId,
            holderRef,
            amount,
            reversesId: null,
            response,
          },
          posting,
          entry: { ...posting, id: entryId, enterpriseId, orderId: null, paymentId: null, requestId: ctx.requestId },
          events: movements.map((movement) => ({
            enterpriseId: movement.card.enterpriseId,
            type: 'card.debited' as const,
            data: cardEventData(movement),
          })),
          audit: auditEntryOf(movements, posting, entryId, undefined),
        });
        return { response, auditId };
      });
    } catch (error) {
      if (error instanceof RiskRefusal) {
        // Rolled back (a wallet's payment code too): the alerts are raised on their own, then the debit is refused.
        for (const leg of legHits) await this.risk.raise(ctx, leg.subject, leg.hits);
        throw RiskService.blocked(error.hit);
      }
      if (!(error instanceof ReferenceTaken)) throw error;
      const replayed = await this.replay(ctx, clientId, reference, debit.fingerprint);
      if (!replayed) {
        throw new Error(`reference ${reference} conflicts but its redemption is not visible`, { cause: error });
      }
      return replayed;
    }
    if (written.auditId) {
      await this.sealAudit(written.auditId);
      for (const leg of legHits) await this.risk.raise(ctx, leg.subject, leg.hits);
    }
    return written.response;
  }

  /** Why a debit by serial changed nothing: another channel's card (or one no channel bound) does not exist for it. */
  private async debitRefusal(
    ctx: RequestContext,
    debit: DebitRequest & { serial: string },
    rules: DebitRules,
  ): Promise<ApiError> {
    const card = await this.cardRows.bySerial(ctx, debit.serial);
    if (!card || card.boundClientId !== debit.clientId) return CardErrors.notFound(debit.serial);
    if (card.holderRef !== debit.holderRef) return CardErrors.holderMismatch(debit.serial);
    try {
      this.assertUsable(card);
    } catch (refusal) {
      return refusal as ApiError;
    }
    const ip = debit.endUserIp;
    const ipRulesBlock = ip !== null && (blocks(rules.ips) || blocks(rules.subnets));
    if (card.balance < debit.amount || (!blocks(rules.debits) && !ipRulesBlock)) {
      return CardErrors.insufficientBalance(card.balance, debit.serial);
    }
    // The card could take it: a fraud rule refused it. Its figures again, as the statement counted them.
    const ipFigures = ipRulesBlock
      ? await this.cardRows.endUserIpFigures(ctx, card.serial, {
          ip,
          ipsWindowSeconds: rules.ips.windowSeconds!,
          subnetsWindowSeconds: rules.subnets.windowSeconds!,
        })
      : null;
    const hits = this.debitHits(rules, {
      recentDebits: blocks(rules.debits)
        ? await this.cardRows.recentDebits(ctx, card.serial, rules.debits.windowSeconds!)
        : null,
      endUserIps: blocks(rules.ips) ? (ipFigures?.endUserIps ?? null) : null,
      awaySubnets: blocks(rules.subnets) ? (ipFigures?.awaySubnets ?? null) : null,
    });
    const blocking = hits.find((hit) => hit.rule.action === 'block');
    if (!blocking) return CardErrors.insufficientBalance(card.balance, debit.serial);
    const subject = {
      serial: card.serial,
      enterpriseId: card.enterpriseId,
      orderId: card.orderId,
      holderRef: debit.holderRef,
      clientId: debit.clientId,
      endUserIp: ip,
    };
    await this.risk.raise(ctx, subject, hits);
    return RiskService.blocked(blocking);
  }

  private remember(card: Pick<CardRow, 'serial' | 'enterpriseId'>): void {
    if (this.enterprises.has(card.serial)) return;
    if (this.enterprises.size >= ENTERPRISES_REMEMBERED) {
      const oldest = this.enterprises.keys().next();
      if (!oldest.done) this.enterprises.delete(oldest.value);
    }
    this.enterprises.set(card.serial, card.enterpriseId);
  }

  /**
   * After the commit of a statement that appended an audit record: seals it into the chain unless a concurrent seal
   * has taken it already (AuditService.append does the same for records appended in a transaction).
   */
  private async sealAudit(auditId: string): Promise<void> {
    try {
      await this.audit.sealThrough(auditId);
    } catch (error) {
      this.logger.error({ err: error, auditId }, 'audit seal after a debit failed: the next seal takes the record');
    }
  }

  private answer(redemption: {
    id: string;
    kind: RedemptionKind;
    reference: string;
    holderRef: string | null;
    amount: number;
    reversesId?: string;
    legs: Leg[];
  }): RedemptionDto {
    return {
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
  }

  private async store(
    ctx: RequestContext,
    redemption: {
      id: string;
      clientId: string;
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
    const response = this.answer(redemption);
    await this.redemptions.complete(ctx, {
      id: redemption.id,
      clientId: redemption.clientId,
      reference: redemption.reference,
      kind: redemption.kind,
      fingerprint: redemption.fingerprint,
      enterpriseId: redemption.enterpriseId,
      holderRef: redemption.holderRef,
      amount: redemption.amount,
      reversesId: redemption.reversesId ?? null,
      response,
    });
    return response;
  }

  /** The stored answer for this client's reference (a retry), or null; another request under it is refused. */
  private async replay(
    ctx: RequestContext,
    clientId: string,
    reference: string,
    fingerprint: string,
  ): Promise<RedemptionDto | null> {
    const stored = await this.redemptions.byReference(ctx, clientId, reference);
    if (!stored) return null;
    if (stored.fingerprint !== fingerprint) throw CardErrors.referenceReused(reference);
    // A debit's reversals may have moved on since: answer with today's figure.
    if (stored.response.kind !== 'debit') return stored.response;
    return { ...stored.response, reversed_amount: stored.reversedAmount };
  }

  /**
   * Claims the client's reference for this request by inserting its redemption row first (completed by `store`
   * before the commit): null when claimed. A second request with the reference waits on the unique index until the
   * first commits (then it gets the stored answer, or 422 for another request) or rolls back (then it claims it).
   */
  private async claim(
    ctx: RequestContext,
    id: string,
    clientId: string,
    reference: string,
    kind: RedemptionKind,
    fingerprint: string,
  ): Promise<RedemptionDto | null> {
    if (await this.redemptions.claim(ctx, { id, clientId, reference, kind, fingerprint })) return null;
    const replayed = await this.replay(ctx, clientId, reference, fingerprint);
    if (!replayed) throw new Error(`reference ${reference} conflicts but its redemption is not visible`);
    return replayed;
  }

  /**
   * A wrong PIN, counted on the card whatever the channel (its row lock serialises concurrent ones): the one that
   * reaches REDEMPTION_CARD_PIN_FAILURE_LIMIT freezes the card, announced as card.frozen with reason pin_attempts,
   * until its enterprise or the operator unfreezes it. Committed on its own: the request itself fails.
   */
  private async countWrongPin(ctx: RequestContext, serial: string): Promise<void> {
    let counted: number | null = null;
    const frozen = await this.transactions.run(ctx, async () => {
      const failures = await this.cardRows.countPinFailure(ctx, serial);
      counted = failures;
      if (failures === null || failures < this.config.REDEMPTION_CARD_PIN_FAILURE_LIMIT) return false;
      const card = await this.cardRows.bySerial(ctx, serial, true);
      if (!card || !(FREEZABLE_STATUSES as readonly CardStatus[]).includes(card.status) || isPastExpiry(card)) {
        return false;
      }
      await this.cardRows.changeStatus(ctx, serial, { from: card.status, to: 'frozen' });
      await this.cards.record(ctx, [
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
    if (counted !== null) await this.verifyFailureRisk(ctx, serial, counted);
  }

  /** The fraud rule on a card's wrong PINs (a block has nothing more to refuse: the attempt failed already). */
  private async verifyFailureRisk(ctx: RequestContext, serial: string, failures: number): Promise<void> {
    const card = await this.cardRows.bySerial(ctx, serial);
    if (!card) return;
    const rule = await this.risk.rule(ctx, 'verify_failures_per_card', {
      enterpriseId: card.enterpriseId,
      clientId: ctx.clientId,
    });
    const hits = this.risk.hits([{ rule, count: failures }]);
    const subject = {
      serial,
      enterpriseId: card.enterpriseId,
      orderId: card.orderId,
      holderRef: card.holderRef,
      clientId: ctx.clientId,
    };
    await this.risk.raise(ctx, subject, hits);
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
  private async identityMatches(ctx: RequestContext, card: CardRow, identity: HolderIdentityDto): Promise<boolean> {
    const ciphertext = await this.orders.purchaserCiphertextOf(ctx, card.orderId);
    if (!ciphertext) return false;
    const onRecord = parsePurchaser(this.cipher.decrypt(ciphertext, `orders.purchaser:${card.orderId}`));
    return (
      onRecord.name.trim() === identity.name.trim() &&
      onRecord.id_type === identity.id_type &&
      normaliseIdNumber(onRecord.id_number) === normaliseIdNumber(identity.id_number)
    );
  }
}
