import { parseAmount, parseDay, ReconciliationRowsChecker } from './reconciliation-match-rows';

describe('reconciliation rows', () => {
  it('reads amounts in fen or in yuan with at most two decimals, exactly', () => {
    expect(parseAmount('123456', null)).toBe(123_456);
    expect(parseAmount(null, '1234.5')).toBe(123_450);
    expect(parseAmount(null, '0.07')).toBe(7);
    expect(parseAmount(null, '19.99')).toBe(1_999);
    expect(parseAmount(null, '100')).toBe(10_000);
    for (const [fen, cny] of [
      ['12.5', null],
      ['-1', null],
      ['1e3', null],
      [null, '1,000.00'],
      [null, '1.005'],
      [null, '¥10'],
      ['1', '0.01'],
      ['99999999999999', null],
    ] as const) {
      expect(parseAmount(fen, cny)).toMatchObject({ code: 'invalid_amount' });
    }
    expect(parseAmount(null, null)).toMatchObject({ code: 'amount_required' });
  });

  it('reads calendar days, with - or /, and refuses days that do not exist', () => {
    expect(parseDay('2026-11-05')).toBe('2026-11-05');
    expect(parseDay('2026/1/5')).toBe('2026-01-05');
    expect(parseDay('2026-11-05T00:00:00.000Z')).toBe('2026-11-05');
    for (const bad of ['2026-02-30', '2026-13-01', '05/11/2026', '20261105', 'yesterday', '1999-12-31']) {
      expect(parseDay(bad)).toBeNull();
    }
  });

  it('checks every row, keeps the period of the good ones, and names columns no row fills', () => {
    const checker = new ReconciliationRowsChecker();
    expect(checker.add({ po_number: ' PO-1 ', amount_cny: '10.00', date: '2026-11-02', extra: 'x' }, 1)).toEqual({
      rowNumber: 1,
      orderId: null,
      poNumber: 'PO-1',
      amount: 1_000,
      date: '2026-11-02',
      invoiceNumber: null,
    });
    expect(
      checker.add({ order_id: 'ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB', amount_cny: '1', date: '2026-10-30' }, 2),
    ).toMatchObject({
      orderId: 'ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB',
    });
    expect(checker.add({ order_id: 'ORD-1', amount_cny: 'x', date: '2027-01-01' }, 3)).toBeNull();
    expect(checker.errors).toEqual([
      { row: 3, field: 'order_id', code: 'invalid_order_id', message: expect.any(String) },
      { row: 3, field: 'amount_cny', code: 'invalid_amount', message: expect.any(String) },
    ]);
    // A failed row does not stretch the period.
    expect([checker.earliest, checker.latest]).toEqual(['2026-10-30', '2026-11-02']);
    expect(checker.missingColumns()).toEqual([]);

    const noDates = new ReconciliationRowsChecker();
    noDates.add({ po_number: 'PO-1', amount_fen: '1' }, 1);
    expect(noDates.missingColumns()).toEqual(['date']);
    const nothing = new ReconciliationRowsChecker();
    nothing.add({ memo: 'x' }, 1);
    expect(nothing.missingColumns()).toEqual(['po_number or order_id', 'amount_fen or amount_cny', 'date']);
  });
});
