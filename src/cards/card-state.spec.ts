import { CARD_STATUSES, type CardStatus } from './card.entity';
import { FREEZABLE_STATUSES, LIVE_STATUSES, UNBOUND_STATUSES } from './card-rules';
import { assertTransition, CARD_TRANSITIONS, canTransition, statusesInto, statusList } from './card-state';

/** Every status pair, and whether the card state machine allows the move: the whole table, written out. */
const ALLOWED: ReadonlyArray<[CardStatus, readonly CardStatus[]]> = [
  ['issued', ['delivered', 'active', 'frozen', 'lost', 'refunded', 'voided', 'expired']],
  ['delivered', ['issued', 'active', 'frozen', 'lost', 'refunded', 'voided', 'expired']],
  ['active', ['exhausted', 'frozen', 'lost', 'refunded', 'expired']],
  ['exhausted', ['active', 'frozen', 'lost', 'expired']],
  ['frozen', ['issued', 'delivered', 'active', 'exhausted', 'lost', 'refunded', 'voided', 'expired']],
  ['expired', ['issued', 'active', 'replaced']],
  ['lost', []],
  ['replaced', []],
  ['voided', []],
  ['refunded', []],
];

describe('card state machine', () => {
  it('covers every status, and names only known ones', () => {
    expect(Object.keys(CARD_TRANSITIONS).sort()).toEqual([...CARD_STATUSES].sort());
    for (const targets of Object.values(CARD_TRANSITIONS)) {
      for (const to of targets) expect(CARD_STATUSES).toContain(to);
    }
  });

  describe.each(ALLOWED)('from %s', (from, allowed) => {
    it.each(CARD_STATUSES.map((to) => [to, allowed.includes(to)] as const))('to %s: %s', (to, expected) => {
      expect(canTransition(from, to)).toBe(expected);
      if (expected) expect(() => assertTransition('100000000008', from, to)).not.toThrow();
      else expect(() => assertTransition('100000000008', from, to)).toThrow(`${from} → ${to}`);
    });
  });

  it('leads nowhere from a card that is gone, and never to the same status', () => {
    for (const terminal of ['lost', 'replaced', 'voided', 'refunded'] as const) {
      expect(CARD_TRANSITIONS[terminal]).toEqual([]);
    }
    for (const status of CARD_STATUSES) expect(canTransition(status, status)).toBe(false);
  });

  it('agrees with the rules: freezable and live cards, binds of unbound cards, and frozen cards going back', () => {
    expect(statusesInto('frozen')).toEqual([...FREEZABLE_STATUSES]);
    expect(statusesInto('expired')).toEqual([...LIVE_STATUSES]);
    for (const status of UNBOUND_STATUSES) expect(canTransition(status, 'active')).toBe(true);
    for (const status of FREEZABLE_STATUSES) expect(canTransition('frozen', status)).toBe(true);
    expect(statusesInto('voided')).toEqual(['issued', 'delivered', 'frozen']);
  });

  it('writes allowed-from sets as SQL lists of known statuses', () => {
    expect(statusList(statusesInto('replaced'))).toBe("'expired'");
    expect(statusList(statusesInto('exhausted'))).toBe("'active', 'frozen'");
  });
});
