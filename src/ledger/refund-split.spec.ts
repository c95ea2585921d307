import { refundSplit } from './refund-split';

describe('refundSplit', () => {
  it('gives a credit-funded refund back to the credit line', () => {
    expect(refundSplit(9_000, 10_000, 10_000)).toEqual({ toCredit: 9_000, toPrepaid: 0 });
  });

  it('never returns more to the credit line than the order drew and still has out', () => {
    expect(refundSplit(9_000, 4_000, 50_000)).toEqual({ toCredit: 4_000, toPrepaid: 5_000 });
  });

  it('returns credit repaid meanwhile as prepaid balance', () => {
    expect(refundSplit(9_000, 9_000, 2_500)).toEqual({ toCredit: 2_500, toPrepaid: 6_500 });
  });

  it('sends a refund of an order paid from prepaid or by transfer to prepaid', () => {
    expect(refundSplit(9_000, 0, 70_000)).toEqual({ toCredit: 0, toPrepaid: 9_000 });
  });

  it('refuses negative or fractional amounts', () => {
    expect(() => refundSplit(-1, 0, 0)).toThrow(RangeError);
    expect(() => refundSplit(1.5, 0, 0)).toThrow(RangeError);
  });
});
