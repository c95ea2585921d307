import { RECIPIENT_STATUSES, type RecipientStatus } from './distribution.entity';
import {
  canMoveRecipient,
  FINAL_RECIPIENT_STATUSES,
  RECIPIENT_TRANSITIONS,
  recipientStatusesInto,
} from './recipient-state';

describe('recipient state machine', () => {
  it('names every status, and only known statuses', () => {
    expect(Object.keys(RECIPIENT_TRANSITIONS).sort()).toEqual([...RECIPIENT_STATUSES].sort());
    for (const targets of Object.values(RECIPIENT_TRANSITIONS)) {
      for (const to of targets) expect(RECIPIENT_STATUSES).toContain(to);
    }
  });

  it.each<[RecipientStatus, RecipientStatus, boolean]>([
    ['scheduled', 'queued', true],
    ['queued', 'sent', true],
    ['queued', 'bound', true],
    ['sent', 'delivered', true],
    ['delivered', 'viewed', true],
    ['viewed', 'claimed', true],
    ['claimed', 'bound', true],
    ['claimed', 'revoked', false],
    ['bound', 'revoked', false],
    ['revoked', 'queued', false],
    ['failed', 'queued', true],
    ['expired', 'queued', true],
    ['scheduled', 'sent', false],
  ])('%s → %s: %s', (from, to, allowed) => {
    expect(canMoveRecipient(from, to)).toBe(allowed);
  });

  it('lets nothing that was claimed go back to the pool', () => {
    expect(recipientStatusesInto('revoked')).not.toContain('claimed');
    expect(recipientStatusesInto('revoked')).not.toContain('bound');
  });

  it('counts a recipient still waiting to be sent as not final', () => {
    expect(FINAL_RECIPIENT_STATUSES).not.toContain('scheduled');
    expect(FINAL_RECIPIENT_STATUSES).not.toContain('queued');
    expect(FINAL_RECIPIENT_STATUSES).toContain('sent');
  });
});
