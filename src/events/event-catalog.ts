/**
 * Every event type, with what it announces: the catalog endpoints subscribe to (an unknown type is refused) and
 * the README documents. Add a type here before recording it.
 */
export const EVENT_CATALOG = {
  'order.created': 'An order was placed',
  'order.approval_required': 'An order waits for approval by another client with orders:approve',
  'order.approved': 'An order was approved',
  'order.rejected': 'An order was rejected by its approver',
  'order.paid': 'An order was paid in full; issuance starts',
  'order.cancelled': 'An order was cancelled before issuance',
  'payment.received': 'A payment (deposit, repayment or order transfer) was recorded',
  'batch.completed': "Every card of one order line's batch was minted",
  'order.issued': 'Every card of an order was minted',
  'order.completed':
    'Every card of an issued order reached its holder: delivered or bound through a distribution, or exported',
  'distribution.created': "A distribution of an order's cards to employees was created; its cards are reserved",
  'distribution.completed':
    'Every recipient of a distribution reached a final status (sent on, bound, failed or revoked)',
  'distribution.cancelled': 'A scheduled distribution was cancelled before sending; its cards went back to the pool',
  'card.delivered':
    "The message carrying a card's claim link reached the employee (SMTP accepted it, or the SMS receipt said delivered)",
  'card.delivery_failed': "A card's message could not be delivered: retries ran out, or the address bounced",
  'card.viewed': 'The employee opened the claim page of a card for the first time',
  'card.claimed': 'The employee revealed the code of a card on its claim page',
  'card.bound': 'A card was bound to a holder through the redemption channel (it is now active)',
  'card.debited': 'A card was spent: amount and balance after',
  'card.reversed': 'A debit was reversed back onto the card, in part or in full',
  'card.frozen': 'A card was frozen by its enterprise or the operator',
  'card.unfrozen': 'A frozen card was unfrozen',
  'card.lost': 'A registered card was reported lost; its balance moves to a replacement card',
  'card.replaced': 'A replacement card was issued, carrying the balance of a lost or expired card',
  'card.voided': "Unused cards were voided; their value went back to the enterprise's prepaid balance",
  'card.refunded': "A registered card's remaining balance was refunded (赎回)",
  'card.expired': 'A card passed its expiry; any remaining balance was booked as breakage',
  'card.reactivated': 'The operator re-activated an expired anonymous card that still held value',
  'risk.alert':
    'A fraud rule fired on a card of the enterprise: the rule, the action (flag, hold, block), the figures and the objects involved',
  'invoice.issued':
    'An invoice (增值税普通发票, 不征税) was issued for paid orders; its PDF and XML follow from a worker',
  'invoice.credited':
    'A red-letter invoice (红字发票) credited money that went back on an invoiced order (cancel, void, refund, or a void in error)',
  'reconciliation.daily':
    "Yesterday's statement (Asia/Shanghai day) of an enterprise whose funds or cards moved: opening, movements by kind, closing",
  'reconciliation.completed':
    'An uploaded reconciliation of ERP records was matched against the orders: its counts by kind (matched, differences)',
  'statement.ready':
    'A statement file asked for with POST /v1/statement-runs was built: its period, format, size, SHA-256 and link',
  'endpoint.disabled': 'A webhook endpoint was disabled (it answered 410, or failed without a success for days)',
  ping: 'A test event sent by POST /v1/webhook-endpoints/{id}/test, to that endpoint only',
} as const satisfies Record<string, string>;

export type EventType = keyof typeof EVENT_CATALOG;

export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as EventType[];

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_CATALOG, value);
}

/** Version of every payload schema; bumped per type when a payload changes incompatibly. */
export const EVENT_SCHEMA_VERSION = 1;
