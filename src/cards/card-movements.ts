import { Injectable } from '@nestjs/common';
import { AuditService, type AuditEntry } from '../audit/audit.service';
import { digestOf } from '../common/canonical-json';
import type { RequestContext } from '../common/context/request-context';
import type { LedgerPosting } from '../ledger/ledger-posting';
import { LedgerService } from '../ledger/ledger.service';
import type { EventType } from '../events/event-catalog';
import { EventsService } from '../events/events.service';
import type { CardTransactionKind } from './card-transaction.entity';
import { CardsRepository, type CardRow, type CardTransactionRow } from './cards.repository';

export type { CardRow } from './cards.repository';

export function isPastExpiry(card: Pick<CardRow, 'expiresAt'>, now = Date.now()): boolean {
  return card.expiresAt !== null && card.expiresAt.getTime() <= now;
}

/** One movement or change of a card, to record with its ledger entry and event. */
export interface CardMovement {
  card: Pick<CardRow, 'serial' | 'enterpriseId' | 'holderRef'>;
  kind: CardTransactionKind;
  /** Signed change of the balance, fen. */
  amount: number;
  balanceAfter: number;
  redemptionId?: string | null;
  relatedSerial?: string | null;
  /** A bind's or debit's end user IP, as the redemption channel sent it. */
  endUserIp?: string | null;
  /** The webhook event announcing it (type and any fields beyond the common ones), or none. */
  event?: { type: EventType; data?: Record<string, unknown> };
}

/** The card_transactions row a movement writes, acting as the context's API client. */
export function cardTransactionRow(ctx: RequestContext, movement: CardMovement): CardTransactionRow {
  return {
    serial: movement.card.serial,
    enterpriseId: movement.card.enterpriseId,
    kind: movement.kind,
    amount: movement.amount,
    balanceAfter: movement.balanceAfter,
    redemptionId: movement.redemptionId ?? null,
    holderRef: movement.card.holderRef,
    clientId: ctx.clientId,
    relatedSerial: movement.relatedSerial ?? null,
    endUserIp: movement.endUserIp ?? null,
  };
}

/**
 * The payload of a movement's event: serial, amounts, holder and redemption, and the event's own fields.
 * `balance: false` leaves balance_after to the statement that computes it (the single-statement debit).
 */
export function cardEventData(movement: CardMovement, { balance = true } = {}): Record<string, unknown> {
  return {
    serial: movement.card.serial,
    amount: movement.amount,
    ...(balance ? { balance_after: movement.balanceAfter } : {}),
    currency: 'CNY',
    holder_ref: movement.card.holderRef,
    ...(movement.redemptionId ? { redemption_id: movement.redemptionId } : {}),
    ...movement.event?.data,
  };
}

/** The audit action of a call of CardMovements.record, by the kind of its first movement. */
const AUDIT_ACTIONS: Record<CardTransactionKind, string> = {
  bind: 'card.bound',
  debit: 'card.debited',
  reverse: 'card.reversed',
  freeze: 'card.frozen',
  unfreeze: 'card.unfrozen',
  lost: 'card.reported_lost',
  replacement: 'card.replaced',
  replaced: 'card.replaced',
  void: 'cards.voided',
  refund: 'card.refunded',
  expire: 'cards.expired',
  reactivate: 'card.reactivated',
};

/** Movements listed one by one in an audit record up to this many; beyond, a digest of the list stands for them. */
const AUDIT_LISTED_MOVEMENTS = 50;

/**
 * Records what happens to cards: the card_transactions rows (CardsRepository), the event for the owning enterprise,
 * through LedgerService the journal entry and, last, one audit record for the whole change (its actor, reason, the
 * cards and the entry), all in the transaction bound to the context. Events and audit records carry serials and amounts, never a code.
 */
@Injectable()
export class CardMovements {
  constructor(
    private readonly cards: CardsRepository,
    private readonly ledger: LedgerService,
    private readonly events: EventsService,
    private readonly audit: AuditService,
  ) {}

  /**
   * Records movements (one multi-row INSERT) and their events, posts `entry` when money moved, and appends one audit
   * record of the change (one statement, the last): `reason` is the caller's, as the API documents it.
   */
  async record(
    ctx: RequestContext,
    movements: readonly CardMovement[],
    entry?: LedgerPosting,
    { reason }: { reason?: string } = {},
  ): Promise<void> {
    const posted = entry ? await this.ledger.post(ctx, entry) : null;
    if (movements.length === 0) return;
    await this.cards.insertTransactions(
      ctx,
      movements.map((movement) => cardTransactionRow(ctx, movement)),
    );
    for (const movement of movements) {
      if (!movement.event) continue;
      await this.events.record(ctx, {
        enterpriseId: movement.card.enterpriseId,
        type: movement.event.type,
        data: cardEventData(movement),
      });
    }
    await this.audit.append(ctx, auditEntryOf(movements, entry, posted?.id ?? null, reason));
  }
}

/**
 * The audit record of a change: its actor, reason, the cards and the entry. `balances: false` leaves each card's
 * balance after out, for a change whose balances the database computes in the same statement that writes the record
 * (the single-statement debit: the card_transactions rows of the redemption hold them).
 */
export function auditEntryOf(
  movements: readonly CardMovement[],
  entry: LedgerPosting | undefined,
  entryId: string | null,
  reason: string | undefined,
  { balances = true }: { balances?: boolean } = {},
): AuditEntry {
  const [first] = movements;
  const listed = movements.map((movement) => ({
    serial: movement.card.serial,
    kind: movement.kind,
    amount: movement.amount,
    ...(balances ? { balance_after: movement.balanceAfter } : {}),
    ...(movement.relatedSerial ? { related_serial: movement.relatedSerial } : {}),
  }));
  const enterprises = new Set(movements.map((movement) => movement.card.enterpriseId));
  const redemptionId = first.redemptionId ?? null;
  return {
    action: AUDIT_ACTIONS[first.kind],
    objectType: redemptionId ? 'redemption' : 'card',
    objectId: redemptionId ?? first.card.serial,
    enterpriseId: enterprises.size === 1 ? first.card.enterpriseId : (entry?.enterpriseId ?? null),
    summary: {
      cards: movements.length,
      ...(movements.length <= AUDIT_LISTED_MOVEMENTS
        ? { movements: listed }
        : {
            first_serial: first.card.serial,
            last_serial: movements[movements.length - 1].card.serial,
            movements_sha256: digestOf(listed),
          }),
      amount: movements.reduce((sum, movement) => sum + movement.amount, 0),
      ledger_entry_id: entryId,
      ledger_kind: entry?.kind ?? null,
      order_id: entry?.orderId ?? null,
      redemption_id: redemptionId,
      reason: reason ?? null,
    },
  };
}
