import { CARD_STATUSES } from './card.entity';
import { refusalOf, statusWithValue, type CardFacts } from './card-rules';

const card = (overrides: Partial<CardFacts> = {}): CardFacts => ({
  status: 'active',
  cardType: 'registered',
  balance: 5_000,
  faceValue: 10_000,
  holderRef: 'holder',
  frozenFrom: null,
  pastExpiry: false,
  ...overrides,
});

describe('card lifecycle rules', () => {
  it('freezes live, unfrozen cards only, and unfreezes frozen ones only', () => {
    for (const status of CARD_STATUSES) {
      const allowed = ['issued', 'delivered', 'active', 'exhausted'].includes(status);
      expect([status, refusalOf('freeze', card({ status }))]).toEqual([status, allowed ? null : 'invalid_state']);
      expect([status, refusalOf('unfreeze', card({ status, frozenFrom: 'active' }))]).toEqual([
        status,
        status === 'frozen' ? null : 'invalid_state',
      ]);
    }
    expect(refusalOf('freeze', card({ pastExpiry: true }))).toBe('expired');
  });

  it('reports loss (挂失) and refunds (赎回) registered cards only', () => {
    expect(refusalOf('report_loss', card({ cardType: 'anonymous' }))).toBe('anonymous_not_reportable');
    expect(refusalOf('refund', card({ cardType: 'anonymous' }))).toBe('anonymous_not_refundable');
    expect(refusalOf('report_loss', card())).toBeNull();
    expect(refusalOf('report_loss', card({ status: 'frozen', frozenFrom: 'active' }))).toBeNull();
    expect(refusalOf('report_loss', card({ status: 'lost' }))).toBe('invalid_state');
    expect(refusalOf('refund', card())).toBeNull();
    expect(refusalOf('refund', card({ balance: 0, status: 'exhausted' }))).toBe('no_value');
    expect(refusalOf('refund', card({ status: 'voided' }))).toBe('invalid_state');
    expect(refusalOf('refund', card({ pastExpiry: true }))).toBe('expired');
  });

  it('voids unused cards only: never bound, full balance, frozen unused ones too', () => {
    const unused = card({ cardType: 'anonymous', status: 'issued', balance: 10_000, holderRef: null });
    expect(refusalOf('void', unused)).toBeNull();
    expect(refusalOf('void', { ...unused, status: 'delivered' })).toBeNull();
    expect(refusalOf('void', { ...unused, status: 'frozen', frozenFrom: 'issued' })).toBeNull();
    expect(refusalOf('void', { ...unused, status: 'frozen', frozenFrom: 'active', holderRef: 'h' })).toBe('not_unused');
    expect(refusalOf('void', card({ balance: 10_000 }))).toBe('not_unused');
    expect(refusalOf('void', { ...unused, balance: 9_999 })).toBe('not_unused');
    expect(refusalOf('void', { ...unused, status: 'voided' })).toBe('invalid_state');
    expect(refusalOf('void', { ...unused, pastExpiry: true })).toBe('expired');
  });

  it('re-activates or replaces expired anonymous cards that held value only', () => {
    const expired = card({ cardType: 'anonymous', status: 'expired', balance: 0 });
    for (const action of ['reactivate', 'replace'] as const) {
      expect(refusalOf(action, expired, 3_000)).toBeNull();
      expect(refusalOf(action, expired, 0)).toBe('no_value');
      expect(refusalOf(action, { ...expired, cardType: 'registered' }, 3_000)).toBe('registered_not_reactivatable');
      expect(refusalOf(action, { ...expired, status: 'active' }, 3_000)).toBe('invalid_state');
    }
  });

  it('gives value back to bound cards as active, to unbound ones as issued', () => {
    expect(statusWithValue('h', 1)).toBe('active');
    expect(statusWithValue('h', 0)).toBe('exhausted');
    expect(statusWithValue(null, 1)).toBe('issued');
  });
});
