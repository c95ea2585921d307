import fc from 'fast-check';
import { ApiError } from '../common/errors/api-error';
import { AppConfig, loadConfig } from '../config/app-config';
import {
  checkCorporatePayer,
  checkOrder,
  checkProduct,
  type ComplianceLimits,
  complianceLimitsOf,
  CompliancePolicy,
  formatFen,
  type OrderLineTerms,
  type OrderTerms,
} from '../catalog/compliance.policy';
import type { PaymentMethod } from './order.entity';
import { priceOrder } from '../catalog/pricing';
import type { PurchaserIdentity } from './purchaser-identity';

/** The shipped defaults, read from a fresh AppConfig. */
const LIMITS: ComplianceLimits = complianceLimitsOf(new AppConfig());
const OFF: ComplianceLimits = { ...LIMITS, enforced: false };

const PURCHASER: PurchaserIdentity = {
  name: '张三',
  id_type: 'resident_id',
  id_number: '11010519491231002X',
  phone: '13800138000',
};

/** The refusal `work` throws, as { status, code, detail, extra }, or null when it passes. */
function refusal(
  work: () => void,
): { status: number; code: string; detail: string; extra: Record<string, unknown> } | null {
  try {
    work();
    return null;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { status: error.getStatus(), code: error.code, detail: error.detail, extra: error.extra };
  }
}

/** An order of `lines` priced at `discountBps`, paid with `paymentMethod`. */
function order(
  lines: OrderLineTerms[],
  options: { paymentMethod?: PaymentMethod; purchaser?: PurchaserIdentity; discountBps?: number } = {},
): OrderTerms {
  const priced = priceOrder(lines, options.discountBps ?? 0);
  return {
    lines,
    faceTotal: priced.faceTotal,
    payable: priced.payable,
    paymentMethod: options.paymentMethod ?? 'bank_transfer',
    purchaser: options.purchaser,
  };
}

const anonymous = (faceValue: number, quantity = 1): OrderLineTerms => ({ cardType: 'anonymous', faceValue, quantity });
const registered = (faceValue: number, quantity = 1): OrderLineTerms => ({
  cardType: 'registered',
  faceValue,
  quantity,
});

describe('compliance limits', () => {
  it('ships the documented defaults (README, PRC prepaid-card rules), enforced', () => {
    expect(LIMITS).toEqual({
      enforced: true,
      anonymousCardMaxFen: 100_000,
      registeredCardMaxFen: 500_000,
      realNameThresholdFen: 1_000_000,
      bankTransferThresholdFen: 500_000,
      anonymousMinValidityMonths: 36,
    });
  });

  it('formats fen as CNY with thousands separators', () => {
    expect(formatFen(1_000_000)).toBe('10,000.00');
    expect(formatFen(999_999)).toBe('9,999.99');
    expect(formatFen(5)).toBe('0.05');
    expect(formatFen(-150)).toBe('-1.50');
  });
});

describe('checkProduct', () => {
  it('accepts the limits exactly: 1,000 CNY anonymous, 5,000 CNY registered', () => {
    expect(
      refusal(() => checkProduct({ cardType: 'anonymous', faceValues: [5_000, 100_000], validityMonths: 36 }, LIMITS)),
    ).toBeNull();
    expect(
      refusal(() =>
        checkProduct({ cardType: 'registered', faceValues: [5_000, 500_000], validityMonths: null }, LIMITS),
      ),
    ).toBeNull();
  });

  it('refuses an anonymous face value of 1,000.01 CNY with card_limit_exceeded', () => {
    expect(
      refusal(() => checkProduct({ cardType: 'anonymous', faceValues: [5_000, 100_001], validityMonths: 36 }, LIMITS)),
    ).toEqual({
      status: 422,
      code: 'card_limit_exceeded',
      detail: expect.stringContaining('1,000.00 CNY'),
      extra: { card_type: 'anonymous', face_value: 100_001, limit: 100_000 },
    });
  });

  it('refuses a registered face value of 5,000.01 CNY with card_limit_exceeded', () => {
    expect(
      refusal(() => checkProduct({ cardType: 'registered', faceValues: [500_001], validityMonths: null }, LIMITS)),
    ).toMatchObject({ code: 'card_limit_exceeded', extra: { card_type: 'registered', limit: 500_000 } });
  });

  it('refuses an anonymous product valid for 35 months with validity_too_short and accepts 36 or no expiry', () => {
    expect(
      refusal(() => checkProduct({ cardType: 'anonymous', faceValues: [10_000], validityMonths: 35 }, LIMITS)),
    ).toEqual({
      status: 422,
      code: 'validity_too_short',
      detail: expect.stringContaining('at least 36 months'),
      extra: { validity_months: 35, minimum_months: 36 },
    });
    expect(
      refusal(() => checkProduct({ cardType: 'anonymous', faceValues: [10_000], validityMonths: 1 }, LIMITS))?.code,
    ).toBe('validity_too_short');
    expect(
      refusal(() => checkProduct({ cardType: 'anonymous', faceValues: [10_000], validityMonths: 36 }, LIMITS)),
    ).toBeNull();
    expect(
      refusal(() => checkProduct({ cardType: 'anonymous', faceValues: [10_000], validityMonths: null }, LIMITS)),
    ).toBeNull();
  });

  it('lets registered products have any validity', () => {
    expect(
      refusal(() => checkProduct({ cardType: 'registered', faceValues: [10_000], validityMonths: 1 }, LIMITS)),
    ).toBeNull();
  });

  it('checks the card limit before the validity', () => {
    expect(
      refusal(() => checkProduct({ cardType: 'anonymous', faceValues: [200_000], validityMonths: 12 }, LIMITS))?.code,
    ).toBe('card_limit_exceeded');
  });

  it('refuses nothing when compliance is not enforced', () => {
    expect(
      refusal(() => checkProduct({ cardType: 'anonymous', faceValues: [500_000], validityMonths: 1 }, OFF)),
    ).toBeNull();
  });

  it('follows configured limits', () => {
    const strict = { ...LIMITS, anonymousCardMaxFen: 50_000, anonymousMinValidityMonths: 48 };
    expect(
      refusal(() => checkProduct({ cardType: 'anonymous', faceValues: [50_001], validityMonths: null }, strict))?.code,
    ).toBe('card_limit_exceeded');
    expect(
      refusal(() => checkProduct({ cardType: 'anonymous', faceValues: [50_000], validityMonths: 47 }, strict))?.code,
    ).toBe('validity_too_short');
  });
});

describe('checkOrder', () => {
  describe('card_limit_exceeded', () => {
    it('accepts cards exactly at the limits and refuses one fen above, naming the line', () => {
      const atLimits = [anonymous(100_000), registered(500_000)];
      expect(refusal(() => checkOrder(order(atLimits, { purchaser: PURCHASER }), LIMITS))).toBeNull();

      expect(
        refusal(() => checkOrder(order([anonymous(5_000), anonymous(100_001)], { purchaser: PURCHASER }), LIMITS)),
      ).toEqual({
        status: 422,
        code: 'card_limit_exceeded',
        detail: expect.stringMatching(/^Line 2: .*1,000\.00 CNY/),
        extra: { line: 2, card_type: 'anonymous', face_value: 100_001, limit: 100_000 },
      });
      expect(refusal(() => checkOrder(order([registered(500_001)], { purchaser: PURCHASER }), LIMITS))).toMatchObject({
        code: 'card_limit_exceeded',
        extra: { line: 1, card_type: 'registered', face_value: 500_001, limit: 500_000 },
      });
    });

    it('comes before the other rules', () => {
      // No purchaser, credit line above the transfer threshold: the card limit is still what is reported.
      expect(
        refusal(() => checkOrder(order([registered(600_000, 10)], { paymentMethod: 'credit_line' }), LIMITS))?.code,
      ).toBe('card_limit_exceeded');
    });
  });

  describe('real_name_required', () => {
    it('requires the purchaser for any registered card, however small the order', () => {
      expect(refusal(() => checkOrder(order([anonymous(5_000), registered(5_000)]), LIMITS))).toEqual({
        status: 422,
        code: 'real_name_required',
        detail: expect.stringContaining('Registered cards'),
        extra: { reason: 'registered_cards' },
      });
      expect(refusal(() => checkOrder(order([registered(5_000)], { purchaser: PURCHASER }), LIMITS))).toBeNull();
    });

    it('requires the purchaser for anonymous cards from 10,000.00 CNY, not at 9,999.99 CNY', () => {
      // 10,000.00 CNY exactly: 10 cards of 1,000 CNY.
      expect(refusal(() => checkOrder(order([anonymous(100_000, 10)]), LIMITS))).toEqual({
        status: 422,
        code: 'real_name_required',
        detail: expect.stringContaining('10,000.00 CNY or more'),
        extra: { reason: 'anonymous_face_total', anonymous_face_total: 1_000_000, threshold: 1_000_000 },
      });
      // 9,999.99 CNY: 9 cards of 1,000 CNY and one of 999.99 CNY.
      expect(refusal(() => checkOrder(order([anonymous(100_000, 9), anonymous(99_999)]), LIMITS))).toBeNull();
      expect(refusal(() => checkOrder(order([anonymous(100_000, 10)], { purchaser: PURCHASER }), LIMITS))).toBeNull();
    });

    it('counts the face total, not the discounted payable', () => {
      // 10,000 CNY face at 10 % off is 9,000 CNY payable: still a real-name purchase.
      expect(refusal(() => checkOrder(order([anonymous(50_000, 20)], { discountBps: 1_000 }), LIMITS))?.code).toBe(
        'real_name_required',
      );
    });

    it('sums the anonymous lines of the order', () => {
      expect(refusal(() => checkOrder(order([anonymous(50_000, 10), anonymous(100_000, 5)]), LIMITS))?.code).toBe(
        'real_name_required',
      );
    });
  });

  describe('bank_transfer_required', () => {
    it('refuses the credit line from a payable of 5,000.00 CNY and accepts 4,999.99 CNY', () => {
      expect(
        refusal(() => checkOrder(order([anonymous(100_000, 5)], { paymentMethod: 'credit_line' }), LIMITS)),
      ).toEqual({
        status: 422,
        code: 'bank_transfer_required',
        detail: expect.stringContaining('5,000.00 CNY or more'),
        extra: {
          payable: 500_000,
          threshold: 500_000,
          payment_method: 'credit_line',
          allowed_payment_methods: ['bank_transfer', 'prepaid_balance'],
        },
      });
      expect(
        refusal(() =>
          checkOrder(order([anonymous(100_000, 4), anonymous(99_999)], { paymentMethod: 'credit_line' }), LIMITS),
        ),
      ).toBeNull();
    });

    it('looks at the payable after the discount, not the face total', () => {
      // 5,000 CNY face, 1 % off: 4,950 CNY payable, under the threshold.
      expect(
        refusal(() =>
          checkOrder(order([anonymous(100_000, 5)], { paymentMethod: 'credit_line', discountBps: 100 }), LIMITS),
        ),
      ).toBeNull();
    });

    it.each(['bank_transfer', 'prepaid_balance'] as const)(
      'accepts %s above the threshold (corporate funds)',
      (paymentMethod) => {
        expect(refusal(() => checkOrder(order([anonymous(100_000, 9)], { paymentMethod }), LIMITS))).toBeNull();
      },
    );

    it('comes after the real-name rule', () => {
      expect(
        refusal(() => checkOrder(order([anonymous(100_000, 10)], { paymentMethod: 'credit_line' }), LIMITS))?.code,
      ).toBe('real_name_required');
      expect(
        refusal(() =>
          checkOrder(order([anonymous(100_000, 10)], { paymentMethod: 'credit_line', purchaser: PURCHASER }), LIMITS),
        )?.code,
      ).toBe('bank_transfer_required');
    });
  });

  it('refuses nothing when compliance is not enforced', () => {
    const everythingWrong = order([anonymous(400_000, 100), registered(500_000, 100)], {
      paymentMethod: 'credit_line',
    });
    expect(refusal(() => checkOrder(everythingWrong, OFF))).toBeNull();
  });

  it('throws RangeError (a bug, not a refusal) for totals that do not match the lines', () => {
    const good = order([anonymous(10_000, 3)]);
    expect(() => checkOrder({ ...good, faceTotal: good.faceTotal + 1 }, LIMITS)).toThrow(RangeError);
    expect(() => checkOrder({ ...good, payable: good.faceTotal + 1 }, LIMITS)).toThrow(RangeError);
    expect(() => checkOrder({ ...good, payable: -1 }, LIMITS)).toThrow(RangeError);
    expect(() => checkOrder({ ...good, faceTotal: good.faceTotal + 1 }, OFF)).toThrow(RangeError);
  });

  it('property: an order that passes keeps passing with a purchaser and by bank transfer', () => {
    const line = fc.record({
      cardType: fc.constantFrom('anonymous' as const, 'registered' as const),
      faceValue: fc.integer({ min: 5_000, max: 500_000 }),
      quantity: fc.integer({ min: 1, max: 50 }),
    });
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 10_000 }), (lines, bps) => {
        const terms = order(lines, { discountBps: bps, paymentMethod: 'bank_transfer', purchaser: PURCHASER });
        const tooBig = lines.some((l) => l.faceValue > (l.cardType === 'anonymous' ? 100_000 : 500_000));
        expect(refusal(() => checkOrder(terms, LIMITS))?.code ?? null).toBe(tooBig ? 'card_limit_exceeded' : null);
      }),
    );
  });
});

describe('CompliancePolicy (injectable)', () => {
  function policy(env: Partial<AppConfig> = {}): CompliancePolicy {
    return new CompliancePolicy(Object.assign(new AppConfig(), env));
  }

  it('reads its limits from AppConfig', () => {
    const configured = policy({ ANONYMOUS_CARD_MAX_FEN: 50_000, REAL_NAME_THRESHOLD_FEN: 200_000 });
    expect(configured.singleCardLimit('anonymous')).toBe(50_000);
    expect(configured.singleCardLimit('registered')).toBe(500_000);
    expect(refusal(() => configured.checkOrder(order([anonymous(50_000, 4)])))?.code).toBe('real_name_required');
    expect(
      refusal(() => configured.checkProduct({ cardType: 'anonymous', faceValues: [50_001], validityMonths: null }))
        ?.code,
    ).toBe('card_limit_exceeded');
  });

  it('is enforced by default and switched off by COMPLIANCE_ENFORCED=false', () => {
    expect(policy().enforced).toBe(true);
    const off = policy({ COMPLIANCE_ENFORCED: false });
    expect(off.enforced).toBe(false);
    expect(
      refusal(() => off.checkOrder(order([registered(500_000, 100)], { paymentMethod: 'credit_line' }))),
    ).toBeNull();
    expect(
      refusal(() => off.checkProduct({ cardType: 'anonymous', faceValues: [500_000], validityMonths: 1 })),
    ).toBeNull();
    expect(
      refusal(() => policy().checkProduct({ cardType: 'anonymous', faceValues: [100_000], validityMonths: 12 }))?.code,
    ).toBe('validity_too_short');
  });

  it('takes COMPLIANCE_ENFORCED from the environment through loadConfig', () => {
    const base = {
      NODE_ENV: 'production',
      CODE_PEPPER: 'x'.repeat(44),
      DATA_ENCRYPTION_KEYS: `k1:${'A'.repeat(43)}=`,
      JWT_SIGNING_KEY: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----',
      ADMIN_CLIENT_ID: 'cli_operator',
      ADMIN_CLIENT_SECRET: 'y'.repeat(24),
      CLIENT_SECRET_KEY: 'z'.repeat(44),
      AUDIT_HMAC_KEYS: `a1:${'B'.repeat(43)}=`,
      DATABASE_URL: 'postgres://u@h/d',
    };
    expect(new CompliancePolicy(loadConfig({ ...base, COMPLIANCE_ENFORCED: 'false' })).enforced).toBe(false);
    expect(new CompliancePolicy(loadConfig(base)).enforced).toBe(true);
  });
});

describe('checkCorporatePayer', () => {
  const enterprise = { name: '示例科技有限公司 (Demo Technology Co., Ltd.)', invoiceTitle: '示例科技有限公司' };

  it('accepts the registered name or the invoice title, ignoring spaces, brackets and case', () => {
    expect(refusal(() => checkCorporatePayer('示例科技有限公司', enterprise, LIMITS))).toBeNull();
    expect(
      refusal(() => checkCorporatePayer('示例科技有限公司（demo technology co., ltd.）', enterprise, LIMITS)),
    ).toBeNull();
  });

  it('refuses a transfer from anyone else with 422 corporate_payer_required, unless the rules are off', () => {
    expect(refusal(() => checkCorporatePayer('张三', enterprise, LIMITS))).toMatchObject({
      status: 422,
      code: 'corporate_payer_required',
    });
    expect(refusal(() => checkCorporatePayer('张三', enterprise, OFF))).toBeNull();
  });
});
