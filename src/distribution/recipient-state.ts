import type { RecipientStatus } from './distribution.entity';

/**
 * Every allowed change of a distribution recipient's status (like src/cards/card-state.ts for cards):
 * - scheduled → queued when the distribution's send time comes; queued → sent once the message left (SMTP accepted
 *   it, the SMS provider took it, the claim URL was handed to the ERP for `link`); account → bound directly;
 * - sent → delivered on the delivery receipt (SMS); queued → delivered at once for e-mail the receiving server accepted;
 * - sent/delivered → viewed (claim page opened) → claimed (code revealed) → bound (added to an account);
 * - queued/sent → failed (retries ran out) or bounced (the address does not exist);
 * - anything not yet claimed → revoked (card back to the pool); sent/delivered/viewed → expired (link lapsed);
 * - failed/bounced/expired → queued again by a resend or a contact change; sent/delivered/viewed → queued the same.
 * A status staying what it is (a second view) is not a change.
 */
export const RECIPIENT_TRANSITIONS: Readonly<Record<RecipientStatus, readonly RecipientStatus[]>> = {
  scheduled: ['queued', 'revoked'],
  // queued → delivered: an e-mail the receiving SMTP server accepted is delivered, recorded in one step.
  queued: ['sent', 'delivered', 'bound', 'failed', 'bounced', 'revoked'],
  sent: ['delivered', 'viewed', 'claimed', 'failed', 'bounced', 'revoked', 'expired', 'queued'],
  delivered: ['viewed', 'claimed', 'revoked', 'expired', 'queued'],
  viewed: ['claimed', 'revoked', 'expired', 'queued'],
  claimed: ['bound'],
  bound: [],
  failed: ['queued', 'revoked'],
  bounced: ['queued', 'revoked'],
  revoked: [],
  expired: ['queued', 'revoked'],
};

/**
 * Done, for the distribution's progress: nothing more will be sent unless someone asks (a resend). `sent` counts: an
 * SMS whose receipt never comes must not hold the distribution open.
 */
export const FINAL_RECIPIENT_STATUSES: readonly RecipientStatus[] = [
  'sent',
  'delivered',
  'viewed',
  'claimed',
  'bound',
  'failed',
  'bounced',
  'revoked',
  'expired',
];

export function canMoveRecipient(from: RecipientStatus, to: RecipientStatus): boolean {
  return RECIPIENT_TRANSITIONS[from].includes(to);
}

/** The statuses a recipient may move to `to` from: the allowed-from set a conditional UPDATE puts in its WHERE. */
export function recipientStatusesInto(to: RecipientStatus): RecipientStatus[] {
  return (Object.keys(RECIPIENT_TRANSITIONS) as RecipientStatus[]).filter((from) => canMoveRecipient(from, to));
}
