import fc from 'fast-check';
import { priceOrder, type PricingLine, unitPrice } from './pricing';

/** Face values up to 100,000 CNY and quantities up to a million: face totals up to 10^13 fen per line. */
const line: fc.Arbitrary<PricingLine> = fc.record({
  faceValue: fc.integer({ min: 1, max: 10_000_000 }),
  quantity: fc.integer({ min: 1, max: 1_000_000 }),
});
const lines = fc.array(line, { minLength: 1, maxLength: 12 });
const bps = fc.integer({ min: 0, max: 10_000 });

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

describe('priceOrder', () => {
  it('prices lines and takes the discount on the face total', () => {
    expect(
      priceOrder(
        [
          { faceValue: 10_000, quantity: 3 },
          { faceValue: 50_000, quantity: 2 },
        ],
        250,
      ),
    ).toEqual({
      faceTotal: 130_000,
      discountTotal: 3_250,
      payable: 126_750,
      lines: [{ faceTotal: 30_000 }, { faceTotal: 100_000 }],
    });
  });

  it('has no discount at 0 bps and makes everything free at 10000 bps', () => {
    expect(priceOrder([{ faceValue: 12_345, quantity: 7 }], 0)).toMatchObject({
      faceTotal: 86_415,
      discountTotal: 0,
      payable: 86_415,
    });
    expect(priceOrder([{ faceValue: 12_345, quantity: 7 }], 10_000)).toMatchObject({
      faceTotal: 86_415,
      discountTotal: 86_415,
      payable: 0,
    });
  });

  it.each([
    // [face total, bps, discount]: exact halves round up, anything below a half rounds down
    [2, 2_500, 1], // 0.5
    [1, 5_000, 1], // 0.5
    [1, 4_999, 0], // 0.4999
    [3, 5_000, 2], // 1.5
    [5, 3_000, 2], // 1.5
    [7, 1_000, 1], // 0.7
    [14, 250, 0], // 0.35
    [20, 250, 1], // 0.5
    [5_050, 250, 126], // 126.25
    [5_020, 250, 126], // 125.5
    [5_019, 250, 125], // 125.475
  ])('rounds half up once on the face total: %p fen at %p bps gives %p fen off', (faceTotal, discountBps, discount) => {
    const priced = priceOrder([{ faceValue: faceTotal, quantity: 1 }], discountBps);
    expect(priced.discountTotal).toBe(discount);
    expect(priced.payable).toBe(faceTotal - discount);
  });

  it('rounds the order, not each card: 3 cards of 3 fen at 50 % off', () => {
    // Per card 1.5 fen off would round to 2 (6 fen off in all); on the order, 4.5 fen rounds to 5.
    expect(priceOrder([{ faceValue: 3, quantity: 3 }], 5_000).discountTotal).toBe(5);
    expect(unitPrice(3, 5_000)).toBe(1);
  });

  it('is exact where floating point is not, up to Number.MAX_SAFE_INTEGER', () => {
    const max = Number.MAX_SAFE_INTEGER; // 9007199254740991
    expect(priceOrder([{ faceValue: max, quantity: 1 }], 5_000)).toEqual({
      faceTotal: max,
      discountTotal: 4_503_599_627_370_496, // 4503599627370495.5 rounded up
      payable: 4_503_599_627_370_495,
      lines: [{ faceTotal: max }],
    });
    expect(priceOrder([{ faceValue: max, quantity: 1 }], 1).discountTotal).toBe(900_719_925_474); // …474.0991
    expect(priceOrder([{ faceValue: max, quantity: 1 }], 9_999).discountTotal).toBe(9_006_298_534_815_517); // …516.9009
  });

  it('handles face totals of 10^12 fen', () => {
    const priced = priceOrder(
      [
        { faceValue: 500_000, quantity: 1_000_000 },
        { faceValue: 500_000, quantity: 1_000_000 },
      ],
      333,
    );
    expect(priced).toEqual({
      faceTotal: 1_000_000_000_000,
      discountTotal: 33_300_000_000,
      payable: 966_700_000_000,
      lines: [{ faceTotal: 500_000_000_000 }, { faceTotal: 500_000_000_000 }],
    });
  });

  it('throws RangeError when a line total or the face total passes Number.MAX_SAFE_INTEGER', () => {
    expect(() => priceOrder([{ faceValue: 2 ** 52, quantity: 2 }], 0)).toThrow(RangeError);
    expect(() =>
      priceOrder(
        [
          { faceValue: 2 ** 52, quantity: 1 },
          { faceValue: 2 ** 52, quantity: 1 },
        ],
        100,
      ),
    ).toThrow(/faceTotal/);
    expect(() => priceOrder([{ faceValue: 2 ** 52 - 1, quantity: 2 }], 100)).not.toThrow();
  });

  it.each([
    ['a zero face value', [{ faceValue: 0, quantity: 1 }], 0],
    ['a negative face value', [{ faceValue: -100, quantity: 1 }], 0],
    ['a fractional face value', [{ faceValue: 100.5, quantity: 1 }], 0],
    ['a NaN face value', [{ faceValue: Number.NaN, quantity: 1 }], 0],
    ['an unsafe face value', [{ faceValue: 2 ** 53, quantity: 1 }], 0],
    ['a zero quantity', [{ faceValue: 100, quantity: 0 }], 0],
    ['a fractional quantity', [{ faceValue: 100, quantity: 1.5 }], 0],
    ['an infinite quantity', [{ faceValue: 100, quantity: Infinity }], 0],
    ['negative bps', [{ faceValue: 100, quantity: 1 }], -1],
    ['bps above 10000', [{ faceValue: 100, quantity: 1 }], 10_001],
    ['fractional bps', [{ faceValue: 100, quantity: 1 }], 2.5],
    ['no lines', [], 0],
  ])('refuses %s with RangeError', (_label, input, discountBps) => {
    expect(() => priceOrder(input, discountBps)).toThrow(RangeError);
  });

  it('property: payable + discount = face total, and the face total is the sum of the lines', () => {
    fc.assert(
      fc.property(lines, bps, (input, discountBps) => {
        const priced = priceOrder(input, discountBps);
        expect(priced.payable + priced.discountTotal).toBe(priced.faceTotal);
        expect(priced.lines.map((priced) => priced.faceTotal)).toEqual(input.map((l) => l.faceValue * l.quantity));
        expect(priced.faceTotal).toBe(sum(priced.lines.map((priced) => priced.faceTotal)));
      }),
    );
  });

  it('property: 0 ≤ discount ≤ face total, all safe integers', () => {
    fc.assert(
      fc.property(lines, bps, (input, discountBps) => {
        const { faceTotal, discountTotal, payable } = priceOrder(input, discountBps);
        for (const value of [faceTotal, discountTotal, payable]) expect(Number.isSafeInteger(value)).toBe(true);
        expect(discountTotal).toBeGreaterThanOrEqual(0);
        expect(discountTotal).toBeLessThanOrEqual(faceTotal);
      }),
    );
  });

  it('property: the discount is within half a fen of faceTotal × bps / 10000, and halves round up', () => {
    fc.assert(
      fc.property(lines, bps, (input, discountBps) => {
        const { faceTotal, discountTotal } = priceOrder(input, discountBps);
        // |discount − faceTotal × bps / 10000| ≤ 1/2, multiplied through by 10000 and exact in BigInt.
        const error = BigInt(discountTotal) * 10_000n - BigInt(faceTotal) * BigInt(discountBps);
        expect(error <= 5_000n && error >= -5_000n).toBe(true);
        // An exact half (error −5000) would have rounded down: never.
        expect(error).not.toBe(-5_000n);
      }),
    );
  });

  it('property: more basis points never give a smaller discount', () => {
    fc.assert(
      fc.property(lines, bps, bps, (input, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        expect(priceOrder(input, low).discountTotal).toBeLessThanOrEqual(priceOrder(input, high).discountTotal);
        expect(priceOrder(input, low).payable).toBeGreaterThanOrEqual(priceOrder(input, high).payable);
      }),
    );
  });

  it('property: splitting a line into two with the same total prices the same', () => {
    fc.assert(
      fc.property(lines, fc.nat(), fc.integer({ min: 1, max: 1_000_000 }), bps, (input, at, splitAt, discountBps) => {
        const index = at % input.length;
        const target = input[index];
        fc.pre(target.quantity >= 2);
        const first = 1 + (splitAt % (target.quantity - 1));
        const split = [
          ...input.slice(0, index),
          { faceValue: target.faceValue, quantity: first },
          { faceValue: target.faceValue, quantity: target.quantity - first },
          ...input.slice(index + 1),
        ];
        const whole = priceOrder(input, discountBps);
        const parts = priceOrder(split, discountBps);
        expect([parts.faceTotal, parts.discountTotal, parts.payable]).toEqual([
          whole.faceTotal,
          whole.discountTotal,
          whole.payable,
        ]);
      }),
    );
  });

  it('property: lines of different face values with the same face total price the same as one line', () => {
    fc.assert(
      fc.property(lines, bps, (input, discountBps) => {
        const { faceTotal } = priceOrder(input, discountBps);
        expect(priceOrder([{ faceValue: faceTotal, quantity: 1 }], discountBps)).toMatchObject({
          faceTotal,
          discountTotal: priceOrder(input, discountBps).discountTotal,
        });
      }),
    );
  });

  it('property: the order of the lines does not matter (lines keep their own totals)', () => {
    fc.assert(
      fc.property(
        lines.chain((input) => fc.tuple(fc.constant(input), fc.shuffledSubarray(input, { minLength: input.length }))),
        bps,
        ([input, shuffled], discountBps) => {
          const a = priceOrder(input, discountBps);
          const b = priceOrder(shuffled, discountBps);
          expect([b.faceTotal, b.discountTotal, b.payable]).toEqual([a.faceTotal, a.discountTotal, a.payable]);
          expect(b.lines).toEqual(shuffled.map((l) => ({ faceTotal: l.faceValue * l.quantity })));
        },
      ),
    );
  });
});

describe('unitPrice', () => {
  it('takes the enterprise discount off one card by the same rule', () => {
    expect(unitPrice(5_000, 250)).toBe(4_875);
    expect(unitPrice(10_000, 250)).toBe(9_750);
    expect(unitPrice(100_000, 250)).toBe(97_500);
    expect(unitPrice(5_020, 250)).toBe(4_894); // 125.5 off rounds up to 126
    expect(unitPrice(5_019, 250)).toBe(4_894); // 125.475 off rounds down to 125
    expect(unitPrice(5_000, 0)).toBe(5_000);
    expect(unitPrice(5_000, 10_000)).toBe(0);
  });

  it('refuses what priceOrder refuses', () => {
    expect(() => unitPrice(0, 250)).toThrow(RangeError);
    expect(() => unitPrice(99.5, 250)).toThrow(RangeError);
    expect(() => unitPrice(5_000, 10_001)).toThrow(RangeError);
    expect(() => unitPrice(5_000, -1)).toThrow(RangeError);
  });

  it('property: equals the payable of an order of one such card', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), bps, (faceValue, discountBps) => {
        expect(unitPrice(faceValue, discountBps)).toBe(priceOrder([{ faceValue, quantity: 1 }], discountBps).payable);
      }),
    );
  });
});
