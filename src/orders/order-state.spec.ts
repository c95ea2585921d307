import { ISSUING_STATUSES, UNPAID_STATUSES } from '../ledger/ledger-invariants';
import { assertTransition, canTransition, ORDER_STATUSES, ORDER_TRANSITIONS } from './order-state';
import { ApiError } from '../common/errors/api-error';

describe('order state machine', () => {
  it('names only known states, and terminal states lead nowhere', () => {
    for (const [from, targets] of Object.entries(ORDER_TRANSITIONS)) {
      expect(ORDER_STATUSES).toContain(from);
      for (const to of targets) expect(ORDER_STATUSES).toContain(to);
    }
    for (const terminal of ['rejected', 'cancelled', 'refunded'] as const)
      expect(ORDER_TRANSITIONS[terminal]).toEqual([]);
  });

  it('cancels only before issuance starts', () => {
    const cancellable = ORDER_STATUSES.filter((status) => canTransition(status, 'cancelled'));
    expect(cancellable).toEqual(['pending_approval', 'pending_payment', 'paid']);
  });

  it('pays only what waits for payment, and approval comes first', () => {
    expect(ORDER_STATUSES.filter((status) => canTransition(status, 'paid'))).toEqual(['pending_payment']);
    expect(canTransition('pending_approval', 'paid')).toBe(false);
    expect(canTransition('pending_approval', 'pending_payment')).toBe(true);
  });

  it('refuses an illegal move with 409 invalid_state naming the current status', () => {
    expect(() => assertTransition('ord_1', 'paid', 'paid')).toThrow(ApiError);
    const thrown = (() => {
      try {
        assertTransition('ord_1', 'cancelled', 'paid');
      } catch (error) {
        return error as ApiError;
      }
      return null;
    })();
    expect(thrown).toMatchObject({ code: 'invalid_state', extra: { order_id: 'ord_1', order_status: 'cancelled' } });
    expect(thrown?.getStatus()).toBe(409);
    expect(() => assertTransition('ord_1', 'pending_payment', 'paid')).not.toThrow();
  });
});

describe('the ledger invariants’ view of order statuses', () => {
  it('names only real statuses, each at most once, and leaves out only those between payment and issuance', () => {
    const named: readonly string[] = [...UNPAID_STATUSES, ...ISSUING_STATUSES];
    expect(named.filter((status) => !(ORDER_STATUSES as readonly string[]).includes(status))).toEqual([]);
    expect(new Set(named).size).toBe(named.length);
    // paid: the whole face value is still unissued, which the invariant checks apart from both lists.
    expect(ORDER_STATUSES.filter((status) => !named.includes(status))).toEqual(['paid']);
  });
});
