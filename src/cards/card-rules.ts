import type { CardStatus } from './card.entity';
import type { CardType } from '../catalog/product.entity';

/** Not bound yet: a bind may take it. */
export const UNBOUND_STATUSES = ['issued', 'delivered'] as const satisfies readonly CardStatus[];
/** Statuses a card can still be used or managed in (expiry applies to them). */
export const LIVE_STATUSES = [
  'issued',
  'delivered',
  'active',
  'exhausted',
  'frozen',
] as const satisfies readonly CardStatus[];
/** Frozen from these only, and back to the one it came from. */
export const FREEZABLE_STATUSES = [
  'issued',
  'delivered',
  'active',
  'exhausted',
] as const satisfies readonly CardStatus[];

export type CardAction = 'freeze' | 'unfreeze' | 'report_loss' | 'refund' | 'void' | 'reactivate' | 'replace';

/** What a lifecycle action needs to know of a card. */
export interface CardFacts {
  status: CardStatus;
  cardType: CardType;
  balance: number;
  faceValue: number;
  holderRef: string | null;
  frozenFrom: CardStatus | null;
  /** expires_at has passed (the expiry job may not have run yet). */
  pastExpiry: boolean;
}

/** Why an action is refused, as the code CardErrors gives it; null when it is allowed. */
export type CardRefusal =
  | 'invalid_state'
  | 'anonymous_not_reportable'
  | 'anonymous_not_refundable'
  | 'registered_not_reactivatable'
  | 'no_value'
  | 'not_unused'
  | 'expired';

const has = (list: readonly CardStatus[], status: CardStatus) => list.includes(status);

/**
 * The lifecycle rules (README.md, "PRC prepaid-card rules" and "Lifecycle") as one pure function, for anonymous and registered cards alike:
 * - freeze: a live card that is not frozen; unfreeze: a frozen card (back to the status it was frozen from);
 * - report loss (挂失): registered cards only, live ones;
 * - refund (赎回): registered cards only, live ones with a balance;
 * - void: unused cards only (never bound, full balance), not past expiry; a frozen unused card too;
 * - reactivate or replace: expired anonymous cards that held value when they expired (`value` is that amount).
 */
export function refusalOf(action: CardAction, card: CardFacts, expiredValue = 0): CardRefusal | null {
  const live = has(LIVE_STATUSES, card.status);
  switch (action) {
    case 'freeze':
      if (!has(FREEZABLE_STATUSES, card.status)) return 'invalid_state';
      return card.pastExpiry ? 'expired' : null;
    case 'unfreeze':
      if (card.status !== 'frozen') return 'invalid_state';
      return card.pastExpiry ? 'expired' : null;
    case 'report_loss':
      if (card.cardType !== 'registered') return 'anonymous_not_reportable';
      if (!live) return 'invalid_state';
      return card.pastExpiry ? 'expired' : null;
    case 'refund':
      if (card.cardType !== 'registered') return 'anonymous_not_refundable';
      if (!live) return 'invalid_state';
      if (card.pastExpiry) return 'expired';
      return card.balance > 0 ? null : 'no_value';
    case 'void': {
      const base = card.status === 'frozen' ? card.frozenFrom : card.status;
      if (!live || base === null) return 'invalid_state';
      if (!has(UNBOUND_STATUSES, base) || card.holderRef !== null || card.balance !== card.faceValue) {
        return 'not_unused';
      }
      return card.pastExpiry ? 'expired' : null;
    }
    case 'reactivate':
    case 'replace':
      if (card.status !== 'expired') return 'invalid_state';
      if (card.cardType !== 'anonymous') return 'registered_not_reactivatable';
      return expiredValue > 0 ? null : 'no_value';
  }
}

/** The status a card gets back when value returns to it: bound cards are active, others as issued. */
export function statusWithValue(holderRef: string | null, balance: number): CardStatus {
  if (holderRef === null) return 'issued';
  return balance > 0 ? 'active' : 'exhausted';
}
