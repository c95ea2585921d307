import type { CardStatus } from './card.entity';

/**
 * Every allowed change of a card's status, and nothing else (the lifecycle of docs/architecture.md, like
 * src/orders/order-state.ts for orders). A status staying what it is (a partial debit of an active card) is not a
 * change. The rules that decide whether a given card may take a move (its type, balance, expiry, holder) are
 * card-rules.ts's; this table is what any status change, in code or in SQL, must respect.
 * - issued → delivered: a distribution's message reached the employee; delivered → issued: the assignment was
 *   revoked before the code was revealed (the card goes back to the pool);
 * - issued/delivered → active: a bind; active ⇄ exhausted: debits and reversals;
 * - live → frozen, and frozen → the status it was frozen from;
 * - live → lost (registered, replaced by a new card), refunded (registered, with value), expired (the expiry job);
 * - unused (issued, delivered, or frozen from those) → voided;
 * - expired → replaced (a new card takes the value), or back to issued/active (re-activation).
 */
export const CARD_TRANSITIONS: Readonly<Record<CardStatus, readonly CardStatus[]>> = {
  issued: ['delivered', 'active', 'frozen', 'lost', 'refunded', 'voided', 'expired'],
  delivered: ['issued', 'active', 'frozen', 'lost', 'refunded', 'voided', 'expired'],
  active: ['exhausted', 'frozen', 'lost', 'refunded', 'expired'],
  exhausted: ['active', 'frozen', 'lost', 'expired'],
  frozen: ['issued', 'delivered', 'active', 'exhausted', 'lost', 'refunded', 'voided', 'expired'],
  expired: ['issued', 'active', 'replaced'],
  lost: [],
  replaced: [],
  voided: [],
  refunded: [],
};

export function canTransition(from: CardStatus, to: CardStatus): boolean {
  return CARD_TRANSITIONS[from].includes(to);
}

/**
 * A move the table does not allow is a programming error (the rules refuse what a caller may not do, with its own
 * code, before anything changes): a plain Error, so the transaction rolls back and the request answers 500.
 */
export function assertTransition(serial: string, from: CardStatus, to: CardStatus): void {
  if (!canTransition(from, to)) throw new Error(`card ${serial}: ${from} → ${to} is not a card status change`);
}

/** The statuses a card may move to `to` from: the allowed-from set a conditional UPDATE puts in its WHERE. */
export function statusesInto(to: CardStatus): CardStatus[] {
  return (Object.keys(CARD_TRANSITIONS) as CardStatus[]).filter((from) => canTransition(from, to));
}

/** `from` as a SQL list literal of statuses, for a fragment's `status IN (...)`: every value is a known status. */
export function statusList(statuses: readonly CardStatus[]): string {
  return statuses.map((status) => `'${status}'`).join(', ');
}
