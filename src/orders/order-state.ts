import { ApiError } from '../common/errors/api-error';

export const ORDER_STATUSES = [
  'pending_approval',
  'pending_payment',
  'paid',
  'issuing',
  'issued',
  'completed',
  'rejected',
  'cancelled',
  'partially_refunded',
  'refunded',
] as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * Every allowed move of the order lifecycle, and nothing else. Cancelling is
 * possible until issuance starts; a paid order that is cancelled is refunded to
 * where its money came from.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending_approval: ['pending_payment', 'rejected', 'cancelled'],
  pending_payment: ['paid', 'cancelled'],
  paid: ['issuing', 'cancelled'],
  issuing: ['issued'],
  issued: ['completed', 'partially_refunded', 'refunded'],
  completed: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded'],
  rejected: [],
  cancelled: [],
  refunded: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

/** 409 invalid_state (naming the order and its order_status) unless the order may move from `from` to `to`. */
export function assertTransition(orderId: string, from: OrderStatus, to: OrderStatus): void {
  if (!canTransition(from, to)) {
    throw ApiError.conflict('invalid_state', `Order '${orderId}' is ${from} and cannot become ${to}`, {
      order_id: orderId,
      // Not `status`: that member of the problem is the HTTP status (RFC 9457).
      order_status: from,
    });
  }
}
