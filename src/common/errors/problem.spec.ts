import { Problem } from './problem';

describe('Problem.of', () => {
  it('keeps RFC 9457 members over extension members of the same name', () => {
    const body = Problem.of(409, 'invalid_state', 'Order is cancelled', 'req_1', {
      status: 'cancelled',
      code: 'other',
      order_id: 'ord_1',
    });
    expect(body).toMatchObject({ status: 409, code: 'invalid_state', title: 'Conflict', order_id: 'ord_1' });
  });
});
