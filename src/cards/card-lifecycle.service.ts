import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { generateCodes, generatePins, isValidSerial, serialFromSequence } from './card-code';
import { CardSecrets } from './card-secrets';
import { CardDto } from './dto/card.dto';
import type { CardStatus } from './card.entity';
import { assertTransition } from './card-state';
import { LedgerAccount } from '../ledger/ledger.entity';
import type { LedgerLineInput } from '../ledger/ledger-posting';
import { LedgerService } from '../ledger/ledger.service';
import { refundSplit } from '../ledger/refund-split';
import { unitPrice } from '../orders/pricing';
import { OnJob } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import type {
  CardTransactionDto,
  CardTransactionPageDto,
  ListCardTransactionsQueryDto,
} from './dto/card-transaction.dto';
import { CardErrors } from './card-errors';
import { CardLifecycleHooks } from './card-lifecycle-hooks';
import { CardMovements, isPastExpiry, type CardMovement } from './card-movements';
import { CardsRepository, type CardRow } from './cards.repository';
import { OrdersRepository } from '../orders/orders.repository';
import { refusalOf, statusWithValue, type CardAction, type CardRefusal } from './card-rules';
import type { ExpiryRunDto, ReplacementDto, VoidResultDto } from './dto/card-lifecycle.dto';

const EXPIRY_SCHEDULER = 'expire-cards';
/** Cards expired per transaction by the expiry job. */
const EXPIRY_CHUNK = 1_000;
const ACTION_WORDS: Record<CardAction, string> = {
  freeze: 'frozen',
  unfreeze: 'unfrozen',
  report_loss: 'reported lost',
  refund: 'refunded',
  void: 'voided',
  reactivate: 're-activated',
  replace: 'replaced',
};

function addMonths(date: Date, months: number): Date {
  const result = new Date(date);
  result.setUTCMonth(result.getUTCMonth() + months);
  return result;
}

/**
 * The card lifecycle (README.md, "PRC prepaid-card rules" and "Lifecycle") for enterprises (their own cards, `cards:write`) and the operator (any card):
 * freeze and unfreeze, report loss (挂失) with a replacement carrying the balance, void unused cards back to
 * prepaid, refund (赎回) a registered card, the scheduled expiry booking breakage, and the operator's re-activation
 * or replacement (激活/换卡) of expired anonymous cards. Each change locks the card row, writes its
 * card_transactions row, its ledger entry when money moves, and its event, in one transaction.
 */
@Injectable()
export class CardLifecycleService implements OnApplicationBootstrap {
  private readonly logger = new Logger(CardLifecycleService.name);

  constructor(
    private readonly transactions: TransactionService,
    private readonly config: AppConfig,
    private readonly secrets: CardSecrets,
    private readonly cards: CardMovements,
    private readonly repository: CardsRepository,
    private readonly orders: OrdersRepository,
    private readonly queues: QueueService,
    private readonly ledger: LedgerService,
    private readonly hooks: CardLifecycleHooks,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.queues.isWorker) return;
    await this.queues.upsertScheduler(
      EXPIRY_SCHEDULER,
      JobName.ExpireCards,
      {},
      { everyMs: this.config.CARD_EXPIRY_INTERVAL_SECONDS * 1000 },
    );
  }

  async freeze(ctx: RequestContext, serial: string, reason?: string): Promise<CardDto> {
    return this.change(ctx, serial, 'freeze', reason, async (card) => {
      await this.repository.changeStatus(ctx, card.serial, { from: card.status, to: 'frozen' });
      return [{ card, kind: 'freeze', amount: 0, balanceAfter: card.balance, event: { type: 'card.frozen' } }];
    });
  }

  async unfreeze(ctx: RequestContext, serial: string, reason?: string): Promise<CardDto> {
    return this.change(ctx, serial, 'unfreeze', reason, async (card) => {
      if (card.frozenFrom === null) throw new Error(`frozen card ${card.serial} does not say what it was frozen from`);
      // A card frozen for wrong PINs gets a fresh count of them.
      await this.repository.changeStatus(ctx, card.serial, {
        from: 'frozen',
        to: card.frozenFrom,
        resetPinFailures: true,
      });
      return [{ card, kind: 'unfreeze', amount: 0, balanceAfter: card.balance, event: { type: 'card.unfrozen' } }];
    });
  }

  /** 赎回: the balance leaves the float for card_refunds_payable, paid out to the holder outside the platform. */
  async refund(ctx: RequestContext, serial: string, reason?: string): Promise<CardDto> {
    return this.change(ctx, serial, 'refund', reason, async (card, ledger) => {
      await this.repository.changeStatus(ctx, card.serial, { from: card.status, to: 'refunded', balance: 0 });
      ledger.push({
        kind: 'card_refund',
        memo: `Card ${card.serial}: ${card.balance} fen refunded to its holder`,
        lines: [
          { account: LedgerAccount.CardFloat, amount: card.balance },
          { account: LedgerAccount.CardRefundsPayable, amount: -card.balance },
        ],
      });
      const bps = (await this.orders.discountsBps(ctx, [card.orderId])).get(card.orderId) ?? 0;
      await this.hooks.moneyReturned(ctx, {
        kind: 'refund',
        enterpriseId: card.enterpriseId,
        orderId: card.orderId,
        faceValue: card.balance,
        amount: unitPrice(card.balance, bps),
        serials: [card.serial],
      });
      return [{ card, kind: 'refund', amount: -card.balance, balanceAfter: 0, event: { type: 'card.refunded' } }];
    });
  }

  /** 挂失: the card is lost and a new one, bound to the same holder, carries its balance. */
  async reportLoss(ctx: RequestContext, serial: string, reason?: string): Promise<ReplacementDto> {
    return this.replace(ctx, serial, 'report_loss', reason);
  }

  /** Operator: an expired anonymous card that held value is replaced by a new card with that value. */
  async replaceExpired(ctx: RequestContext, serial: string, reason?: string): Promise<ReplacementDto> {
    return this.replace(ctx, serial, 'replace', reason);
  }

  /** Operator: an expired anonymous card that held value gets it back, valid for the anonymous minimum again. */
  async reactivate(ctx: RequestContext, serial: string, reason?: string): Promise<CardDto> {
    return this.change(ctx, serial, 'reactivate', reason, async (card, ledger, expiredValue) => {
      const status = statusWithValue(card.holderRef, expiredValue);
      const expiresAt = addMonths(new Date(), this.config.ANONYMOUS_MIN_VALIDITY_MONTHS);
      await this.repository.changeStatus(ctx, card.serial, {
        from: card.status,
        to: status,
        balance: expiredValue,
        expiresAt,
      });
      ledger.push({
        kind: 'card_reactivation',
        memo: `Card ${card.serial}: ${expiredValue} fen of breakage restored`,
        lines: [
          { account: LedgerAccount.Breakage, amount: expiredValue },
          { account: LedgerAccount.CardFloat, amount: -expiredValue },
        ],
      });
      return [
        {
          card,
          kind: 'reactivate',
          amount: expiredValue,
          balanceAfter: expiredValue,
          event: { type: 'card.reactivated', data: { expires_at: expiresAt.toISOString() } },
        },
      ];
    });
  }

  /**
   * Voids unused cards, all or none: each goes to `voided` with balance 0, and what the cards cost the enterprise
   * (face value less its order's discount, by the pricing rule) goes back where the order's money came from, by the
   * rule of a cancelled paid order (refundSplit): to the credit line first while the order still has credit out,
   * the rest to the prepaid balance; the discount goes back to sales_discount. One ledger entry per order.
   */
  async voidCards(ctx: RequestContext, serials: string[], reason?: string): Promise<VoidResultDto> {
    for (const serial of serials) if (!isValidSerial(serial)) throw CardErrors.notFound(serial);
    return this.transactions.run(ctx, async () => {
      const locked = await this.repository.lockSerials(ctx, serials);
      const bySerial = new Map(locked.map((card) => [card.serial, card]));
      for (const serial of serials) {
        const card = bySerial.get(serial);
        if (!card || !this.owns(ctx, card)) throw CardErrors.notFound(serial);
        const refusal = refusalOf('void', this.facts(card));
        if (refusal) throw this.refusalError(refusal, card, 'void');
      }
      const bpsOf = await this.orders.discountsBps(ctx, [...new Set(locked.map((card) => card.orderId))]);
      for (const card of locked) assertTransition(card.serial, card.status, 'voided');
      await this.repository.voidCards(ctx, serials);
      const perOrder = new Map<string, { enterpriseId: string; face: number; price: number; cards: CardRow[] }>();
      for (const card of locked) {
        const totals = perOrder.get(card.orderId) ?? { enterpriseId: card.enterpriseId, face: 0, price: 0, cards: [] };
        totals.face += card.balance;
        totals.price += unitPrice(card.faceValue, bpsOf.get(card.orderId) ?? 0);
        totals.cards.push(card);
        perOrder.set(card.orderId, totals);
      }
      // Funds locks in one order for every voider (no deadlocks), before the credit figures are read.
      for (const enterpriseId of [...new Set(locked.map((card) => card.enterpriseId))].sort()) {
        await this.ledger.lockEnterpriseFunds(ctx, enterpriseId);
      }
      let toPrepaid = 0;
      let toCredit = 0;
      for (const [orderId, totals] of [...perOrder].sort(([a], [b]) => a.localeCompare(b))) {
        const { enterpriseId } = totals;
        const split = refundSplit(
          totals.price,
          await this.ledger.orderBalance(ctx, orderId, LedgerAccount.Receivable),
          await this.ledger.creditUsed(ctx, enterpriseId),
        );
        const lines: LedgerLineInput[] = [{ account: LedgerAccount.CardFloat, amount: totals.face }];
        if (split.toCredit > 0)
          lines.push({ account: LedgerAccount.Receivable, amount: -split.toCredit, enterpriseId });
        if (split.toPrepaid > 0) lines.push({ account: LedgerAccount.Prepaid, amount: -split.toPrepaid, enterpriseId });
        if (totals.face > totals.price) {
          lines.push({ account: LedgerAccount.SalesDiscount, amount: -(totals.face - totals.price) });
        }
        toPrepaid += split.toPrepaid;
        toCredit += split.toCredit;
        await this.hooks.moneyReturned(ctx, {
          kind: 'void',
          enterpriseId,
          orderId,
          faceValue: totals.face,
          amount: totals.price,
          serials: totals.cards.map((card) => card.serial),
        });
        await this.cards.record(
          ctx,
          totals.cards.map((card): CardMovement => ({
            card,
            kind: 'void',
            amount: -card.balance,
            balanceAfter: 0,
            event: { type: 'card.voided' },
          })),
          {
            kind: 'cards_voided',
            memo: `${totals.cards.length} unused card(s) voided: ${split.toCredit} fen back to the credit line, ${split.toPrepaid} fen to prepaid`,
            enterpriseId,
            orderId,
            lines,
          },
          { reason },
        );
      }
      const rows = await this.repository.entities(ctx, serials);
      return {
        object: 'card_void',
        voided: serials.length,
        refunded_to_prepaid: toPrepaid,
        refunded_to_credit: toCredit,
        cards: rows.map((card) => CardDto.from(card)),
      };
    });
  }

  /**
   * The expiry job: cards past expires_at that are still live become `expired` with balance 0, and their value is
   * booked as breakage, in chunks (one transaction each, one ledger entry per enterprise in it). SKIP LOCKED leaves cards that a
   * redemption holds right now to the next run; a second worker running the job at once takes other rows.
   */
  @OnJob(JobName.ExpireCards)
  async expireDueJob(): Promise<ExpiryRunDto> {
    return this.expireDue(RequestContext.system());
  }

  /** The expiry run itself: `ctx` names who ran it (the system for the scheduled job, else the operator). */
  async expireDue(ctx: RequestContext): Promise<ExpiryRunDto> {
    let expired = 0;
    let breakage = 0;
    for (;;) {
      const chunk = await this.transactions.run(ctx, async () => {
        const rows = await this.repository.expireDue(ctx, EXPIRY_CHUNK);
        const total = rows.reduce((sum, row) => sum + Number(row.expired), 0);
        // One entry per enterprise, naming it: an enterprise's statement reads its breakage from the ledger.
        const byEnterprise = new Map<string, typeof rows>();
        for (const row of rows)
          byEnterprise.set(row.enterprise_id, [...(byEnterprise.get(row.enterprise_id) ?? []), row]);
        for (const [enterpriseId, cards] of byEnterprise) {
          const value = cards.reduce((sum, row) => sum + Number(row.expired), 0);
          await this.cards.record(
            ctx,
            cards.map((row): CardMovement => ({
              card: { serial: row.serial, enterpriseId: row.enterprise_id, holderRef: row.holder_ref },
              kind: 'expire',
              amount: -Number(row.expired),
              balanceAfter: 0,
              event: { type: 'card.expired' },
            })),
            value > 0
              ? {
                  kind: 'cards_expired',
                  memo: `${cards.length} card(s) expired: ${value} fen of breakage`,
                  enterpriseId,
                  lines: [
                    { account: LedgerAccount.CardFloat, amount: value },
                    { account: LedgerAccount.Breakage, amount: -value },
                  ],
                }
              : undefined,
          );
        }
        return { count: rows.length, total };
      });
      expired += chunk.count;
      breakage += chunk.total;
      if (chunk.count < EXPIRY_CHUNK) break;
    }
    if (expired > 0) this.logger.log({ msg: 'cards expired', expired, breakage });
    return { expired, breakage };
  }

  /**
   * Movements of a card, oldest first: its owner (cards:read), the redemption channel that bound it
   * (redemptions:write; any other channel gets a 404, as for a card that does not exist) or the operator.
   */
  async transactionsOf(
    ctx: RequestContext,
    serial: string,
    query: ListCardTransactionsQueryDto,
  ): Promise<CardTransactionPageDto> {
    const scopes = ctx.actor?.scopes;
    const channel = scopes?.has('redemptions:write') ?? false;
    const owner = scopes?.has('cards:read') ?? false;
    if (!ctx.isOperator && !channel && !owner) {
      throw ApiError.forbidden('insufficient_scope', 'Listing card transactions needs cards:read');
    }
    if (!isValidSerial(serial)) throw CardErrors.notFound(serial);
    const card = await this.repository.bySerial(ctx, serial);
    const visible =
      card !== null &&
      (ctx.isOperator ||
        (channel && card.boundClientId === ctx.clientId) ||
        (owner && card.enterpriseId === ctx.actor?.enterpriseId));
    if (!visible) throw CardErrors.notFound(serial);
    const limit = query.limit ?? 50;
    const rows = await this.repository.transactionsPage(ctx, serial, query.starting_after ?? '0', limit + 1);
    const data = rows.slice(0, limit).map((row): CardTransactionDto => ({
      object: 'card_transaction',
      id: row.id,
      serial,
      kind: row.kind,
      amount: Number(row.amount),
      balance_after: Number(row.balance_after),
      redemption_id: row.redemption_id,
      holder_ref: row.holder_ref,
      related_serial: row.related_serial,
      created_at: row.created_at.toISOString(),
    }));
    const hasMore = rows.length > limit;
    return { object: 'list', data, has_more: hasMore, next_cursor: hasMore ? data[data.length - 1].id : null };
  }

  /**
   * Locks the card, checks ownership and the rule for `action`, lets `apply` change it (returning its movements
   * and pushing any ledger entry), records them, and answers with the card as it now is.
   */
  private async change(
    ctx: RequestContext,
    serial: string,
    action: CardAction,
    reason: string | undefined,
    apply: (
      card: CardRow,
      ledger: Array<{ kind: string; memo: string; lines: LedgerLineInput[] }>,
      expiredValue: number,
    ) => Promise<CardMovement[]>,
  ): Promise<CardDto> {
    if (!isValidSerial(serial)) throw CardErrors.notFound(serial);
    return this.transactions.run(ctx, async () => {
      const card = await this.repository.bySerial(ctx, serial, true);
      if (!card || !this.owns(ctx, card)) throw CardErrors.notFound(serial);
      const expiredValue =
        action === 'reactivate' || action === 'replace' ? await this.repository.expiredValue(ctx, card.serial) : 0;
      const refusal = refusalOf(action, this.facts(card), expiredValue);
      if (refusal) throw this.refusalError(refusal, card, action);
      const ledger: Array<{ kind: string; memo: string; lines: LedgerLineInput[] }> = [];
      const movements = await apply(card, ledger, expiredValue);
      const [entry] = ledger;
      await this.cards.record(
        ctx,
        movements,
        entry ? { ...entry, enterpriseId: card.enterpriseId, orderId: null } : undefined,
        { reason },
      );
      return CardDto.from(await this.repository.entity(ctx, card.serial));
    });
  }

  /** Loss of a registered card, or operator replacement of an expired anonymous one: a new card takes the value. */
  private async replace(
    ctx: RequestContext,
    serial: string,
    action: 'report_loss' | 'replace',
    reason: string | undefined,
  ): Promise<ReplacementDto> {
    // One transaction around the change and the read-back: with an Idempotency-Key the change joins the key's
    // still-open transaction, whose uncommitted replacement card no other connection can see yet.
    return this.transactions.run(ctx, async () => {
      let replacementSerial = '';
      const card = await this.change(ctx, serial, action, reason, async (old, ledger, expiredValue) => {
        const value = action === 'report_loss' ? old.balance : expiredValue;
        const status = statusWithValue(old.holderRef, value);
        const expiresAt =
          action === 'report_loss' ? old.expiresAt : addMonths(new Date(), this.config.ANONYMOUS_MIN_VALIDITY_MONTHS);
        replacementSerial = await this.mintReplacement(ctx, old, value, status, expiresAt);
        await this.repository.changeStatus(ctx, old.serial, {
          from: old.status,
          to: action === 'report_loss' ? 'lost' : 'replaced',
          balance: 0,
          replacedBy: replacementSerial,
        });
        const replacement = { serial: replacementSerial, enterpriseId: old.enterpriseId, holderRef: old.holderRef };
        if (value > 0) {
          ledger.push(
            action === 'report_loss'
              ? {
                  kind: 'card_replacement',
                  memo: `Card ${old.serial} lost: ${value} fen moved to card ${replacementSerial}`,
                  lines: [
                    { account: LedgerAccount.CardFloat, amount: value },
                    { account: LedgerAccount.CardFloat, amount: -value },
                  ],
                }
              : {
                  kind: 'card_replacement',
                  memo: `Expired card ${old.serial}: ${value} fen of breakage restored on card ${replacementSerial}`,
                  lines: [
                    { account: LedgerAccount.Breakage, amount: value },
                    { account: LedgerAccount.CardFloat, amount: -value },
                  ],
                },
          );
        }
        const movements: CardMovement[] = [];
        if (action === 'report_loss') {
          movements.push({
            card: old,
            kind: 'lost',
            amount: -old.balance,
            balanceAfter: 0,
            relatedSerial: replacementSerial,
            event: { type: 'card.lost', data: { replacement_serial: replacementSerial } },
          });
        } else {
          movements.push({ card: old, kind: 'replaced', amount: 0, balanceAfter: 0, relatedSerial: replacementSerial });
        }
        movements.push({
          card: replacement,
          kind: 'replacement',
          amount: value,
          balanceAfter: value,
          relatedSerial: old.serial,
          // Announced under the replaced card's serial (the one the ERP knows), naming the new one.
          event: { type: 'card.replaced', data: { serial: old.serial, replacement_serial: replacementSerial } },
        });
        return movements;
      });
      const replacement = await this.repository.entity(ctx, replacementSerial);
      return { object: 'card_replacement', card, replacement: CardDto.from(replacement) };
    });
  }

  /**
   * A new card of the same order, batch and face value with a fresh code and PIN (sealed, never returned: the
   * enterprise gets it through a code export), holding `balance`; bound to the same holder when the old one was.
   */
  private async mintReplacement(
    ctx: RequestContext,
    old: CardRow,
    balance: number,
    status: CardStatus,
    expiresAt: Date | null,
  ): Promise<string> {
    const serial = serialFromSequence(await this.repository.reserve(ctx, 1));
    const [code] = generateCodes(1);
    const [pin] = generatePins(1);
    // The replacement stays with the channel the old card was bound through.
    await this.repository.insertCard(ctx, {
      serial,
      orderId: old.orderId,
      batchId: old.batchId,
      enterpriseId: old.enterpriseId,
      cardType: old.cardType,
      productId: old.productId,
      faceValue: old.faceValue,
      balance,
      status,
      expiresAt,
      codeHash: this.secrets.blindIndex(code),
      secretCiphertext: this.secrets.seal(serial, code, pin),
      pinHash: this.secrets.pinDigest(serial, pin),
      holderRef: old.holderRef,
      replaces: old.serial,
      boundClientId: old.boundClientId,
      codeKeyId: this.secrets.blindIndexKeyId,
    });
    return serial;
  }

  private owns(ctx: RequestContext, card: CardRow): boolean {
    return ctx.isOperator || ctx.actor?.enterpriseId === card.enterpriseId;
  }

  private facts(card: CardRow) {
    return {
      status: card.status,
      cardType: card.cardType,
      balance: card.balance,
      faceValue: card.faceValue,
      holderRef: card.holderRef,
      frozenFrom: card.frozenFrom,
      pastExpiry: isPastExpiry(card),
    };
  }

  private refusalError(refusal: CardRefusal, card: CardRow, action: CardAction): ApiError {
    switch (refusal) {
      case 'anonymous_not_reportable':
        return CardErrors.anonymousNotReportable(card.serial);
      case 'anonymous_not_refundable':
        return CardErrors.anonymousNotRefundable(card.serial);
      case 'registered_not_reactivatable':
        return CardErrors.registeredNotReactivatable(card.serial);
      case 'no_value':
        return CardErrors.nothingLeft(card.serial);
      case 'not_unused':
        return CardErrors.notUnused(card.serial);
      case 'expired':
        return CardErrors.unusable(card.serial, 'expired')!;
      case 'invalid_state':
        return (
          (action === 'reactivate' || action === 'replace' ? null : CardErrors.unusable(card.serial, card.status)) ??
          CardErrors.invalidState(card.serial, card.status, ACTION_WORDS[action])
        );
    }
  }
}
