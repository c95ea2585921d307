import { ApiError } from '../common/errors/api-error';
import { creditCodeCheckCharacter } from '../enterprises/credit-code';
import {
  assertOrdinaryInvoice,
  checkedTaxpayerId,
  chineseCapitalAmount,
  creditableAmount,
  formatYuan,
  invoiceLine,
  invoiceNumber,
  PREPAID_CARD_ITEM,
  previousShanghaiMonth,
  proportionalFace,
  shanghaiMonthRange,
  totalsOf,
} from './invoice-policy';

const SETTINGS = { taxClassificationCode: '6010000000000000000' };

function codeOf(error: () => unknown): string | null {
  try {
    error();
    return null;
  } catch (caught) {
    if (caught instanceof ApiError) return `${caught.getStatus()} ${caught.code}`;
    throw caught;
  }
}

describe('invoice policy', () => {
  describe('the line of a prepaid-card sale (国家税务总局公告2016年第53号)', () => {
    it('is the non-taxable item 601 预付卡销售和充值 at 不征税 with tax 0', () => {
      const line = invoiceLine(SETTINGS, { orderId: 'ord_1', poNumber: 'PO-1', faceValue: 100_000, amount: 97_000 });
      expect(line).toEqual({
        orderId: 'ord_1',
        poNumber: 'PO-1',
        item: '*未发生销售行为的不征税项目*预付卡销售和充值',
        taxClassificationCode: '6010000000000000000',
        taxRate: '不征税',
        faceValue: 100_000,
        discount: 3_000,
        amount: 97_000,
        tax: 0,
      });
      expect(PREPAID_CARD_ITEM.category).toBe('601');
    });

    it('invoices what was paid after discount, never the face value, and shows both', () => {
      const line = invoiceLine(SETTINGS, { orderId: 'o', poNumber: 'p', faceValue: 12_345, amount: 12_000 });
      expect(line.amount).toBe(12_000);
      expect(line.faceValue - line.discount).toBe(line.amount);
    });

    it('negates every amount on a red-letter line, tax still 0', () => {
      const line = invoiceLine(SETTINGS, { orderId: 'o', poNumber: 'p', faceValue: 5_000, amount: 4_900 }, -1);
      expect([line.faceValue, line.discount, line.amount, line.tax]).toEqual([-5_000, -100, -4_900, 0]);
    });

    it('refuses amounts that are not positive integer fen at most the face value', () => {
      expect(() => invoiceLine(SETTINGS, { orderId: 'o', poNumber: 'p', faceValue: 100, amount: 0 })).toThrow(
        RangeError,
      );
      expect(() => invoiceLine(SETTINGS, { orderId: 'o', poNumber: 'p', faceValue: 100, amount: 101 })).toThrow(
        RangeError,
      );
      expect(() => invoiceLine(SETTINGS, { orderId: 'o', poNumber: 'p', faceValue: 100, amount: 1.5 })).toThrow(
        RangeError,
      );
    });

    it('totals lines: total = amount, tax 0', () => {
      const lines = [
        invoiceLine(SETTINGS, { orderId: 'a', poNumber: 'a', faceValue: 10_000, amount: 9_500 }),
        invoiceLine(SETTINGS, { orderId: 'b', poNumber: 'b', faceValue: 20_001, amount: 20_001 }),
      ];
      expect(totalsOf(lines)).toEqual({ faceValue: 30_001, discount: 500, amount: 29_501, tax: 0, total: 29_501 });
    });
  });

  describe('ordinary invoices only', () => {
    it('accepts ordinary (or none asked)', () => {
      expect(codeOf(() => assertOrdinaryInvoice('ordinary'))).toBeNull();
      expect(codeOf(() => assertOrdinaryInvoice(undefined))).toBeNull();
    });
    it('refuses a special VAT invoice with 422 special_invoice_not_allowed', () => {
      expect(codeOf(() => assertOrdinaryInvoice('special'))).toBe('422 special_invoice_not_allowed');
    });
  });

  describe('价税合计（大写）', () => {
    it.each([
      [1, '壹分'],
      [1_010, '壹拾元壹角整'],
      [10_000_000, '壹拾万元整'],
      [100_000_005, '壹佰万元零伍分'],
      [0, '零元整'],
      [100, '壹元整'],
      [-1_010, '负壹拾元壹角整'],
    ])('%i fen → %s', (fen, words) => {
      expect(chineseCapitalAmount(fen)).toBe(words);
    });

    it('refuses fractions of a fen', () => {
      expect(() => chineseCapitalAmount(0.5)).toThrow(RangeError);
    });

    it('formats fen as yuan', () => {
      expect([formatYuan(1), formatYuan(1_010), formatYuan(10_000_000), formatYuan(-100_000_005)]).toEqual([
        '0.01',
        '10.10',
        '100000.00',
        '-1000000.05',
      ]);
    });
  });

  describe("the buyer's unified social credit code", () => {
    const body = '91310000MA1FL8XQ3';
    const valid = body + creditCodeCheckCharacter(body);
    it('is accepted with its check character, normalised', () => {
      expect(checkedTaxpayerId(` ${valid.toLowerCase()} `)).toBe(valid);
    });
    it('is refused with a wrong check character: 422 invalid_taxpayer_id', () => {
      const wrong = body + (valid.endsWith('0') ? '1' : '0');
      expect(codeOf(() => checkedTaxpayerId(wrong))).toBe('422 invalid_taxpayer_id');
      expect(codeOf(() => checkedTaxpayerId('123'))).toBe('422 invalid_taxpayer_id');
    });
  });

  describe('numbers', () => {
    it('are 20 digits: year, issuer, 12-digit sequence', () => {
      expect(invoiceNumber('310000', 2026, 1)).toBe('26310000000000000001');
      expect(invoiceNumber('310000', 2026, 50)).toHaveLength(20);
    });
    it('refuse a bad issuer or sequence', () => {
      expect(() => invoiceNumber('31', 2026, 1)).toThrow(RangeError);
      expect(() => invoiceNumber('310000', 2026, 0)).toThrow(RangeError);
    });
  });

  describe('Asia/Shanghai months', () => {
    it('start at 00:00 +08:00', () => {
      expect(shanghaiMonthRange('2026-11')).toEqual({
        from: new Date('2026-10-31T16:00:00Z'),
        to: new Date('2026-11-30T16:00:00Z'),
      });
    });
    it('the run at 02:00 on the 1st (18:00 UTC the day before) invoices the month before', () => {
      expect(previousShanghaiMonth(new Date('2026-11-30T18:00:00Z'))).toBe('2026-11');
      expect(previousShanghaiMonth(new Date('2026-12-31T18:00:00Z'))).toBe('2026-12');
      expect(previousShanghaiMonth(new Date('2027-01-15T00:00:00Z'))).toBe('2026-12');
    });
    it('refuse a malformed month', () => {
      expect(() => shanghaiMonthRange('2026-13')).toThrow(RangeError);
    });
  });

  describe('red-letter amounts', () => {
    it('credit the refunded amount only, never more than is left on the invoice', () => {
      expect(creditableAmount(3_000, 10_000, 0)).toBe(3_000);
      expect(creditableAmount(3_000, 10_000, 8_000)).toBe(2_000);
      expect(creditableAmount(3_000, 10_000, 10_000)).toBe(0);
    });
    it('show the matching share of the face value', () => {
      expect(proportionalFace(9_700, 9_700, 10_000)).toBe(10_000);
      expect(proportionalFace(4_850, 9_700, 10_000)).toBe(5_000);
    });
  });
});
