import fc from 'fast-check';
import {
  enterprisesTouched,
  type LedgerLineInput,
  type LedgerPosting,
  LedgerPostingError,
  validatePosting,
} from './ledger-posting';
import { ENTERPRISE_ACCOUNTS, LedgerAccount } from './ledger.entity';

const ENT = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';
const OTHER = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAC';

function posting(lines: LedgerLineInput[], overrides: Partial<LedgerPosting> = {}): LedgerPosting {
  return { kind: 'order_payment', memo: 'test', enterpriseId: ENT, orderId: 'ord_1', lines, ...overrides };
}

const deposit = (amount: number) =>
  posting([
    { account: LedgerAccount.Bank, amount },
    { account: LedgerAccount.Prepaid, amount: -amount, enterpriseId: ENT },
  ]);

function refusal(entry: LedgerPosting): string {
  try {
    validatePosting(entry);
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerPostingError);
    expect(error).toBeInstanceOf(Error);
    return (error as Error).message;
  }
  throw new Error('the posting was accepted');
}

describe('validatePosting', () => {
  it('accepts the postings of the order and payment flows', () => {
    const [face, discount] = [100_000, 3_000];
    const flows: LedgerPosting[] = [
      deposit(50_000),
      posting([
        { account: LedgerAccount.Prepaid, amount: face - discount, enterpriseId: ENT },
        { account: LedgerAccount.SalesDiscount, amount: discount },
        { account: LedgerAccount.UnissuedOrders, amount: -face },
      ]),
      posting([
        { account: LedgerAccount.Receivable, amount: face, enterpriseId: ENT },
        { account: LedgerAccount.UnissuedOrders, amount: -face },
      ]),
      posting([
        { account: LedgerAccount.Bank, amount: 70_000 },
        { account: LedgerAccount.Receivable, amount: -70_000, enterpriseId: ENT },
      ]),
    ];
    for (const entry of flows) expect(() => validatePosting(entry)).not.toThrow();
  });

  it('refuses an entry that does not sum to zero', () => {
    expect(
      refusal(
        posting([
          { account: LedgerAccount.Bank, amount: 100 },
          { account: LedgerAccount.Prepaid, amount: -99, enterpriseId: ENT },
        ]),
      ),
    ).toMatch(/sum to 1 fen, not zero/);
  });

  it('refuses fewer than two lines', () => {
    expect(refusal(posting([]))).toMatch(/at least two lines/);
    expect(refusal(posting([{ account: LedgerAccount.Bank, amount: 1 }]))).toMatch(/at least two lines/);
  });

  it.each([0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -(2 ** 53)])(
    'refuses the amount %p',
    (amount) => {
      expect(
        refusal(
          posting([
            { account: LedgerAccount.Bank, amount },
            { account: LedgerAccount.Bank, amount: -amount },
          ]),
        ),
      ).toMatch(/line 0 \(bank\): amount/);
    },
  );

  it('refuses amounts passed as strings (bigint columns read without the transformer)', () => {
    expect(
      refusal(
        posting([
          { account: LedgerAccount.Bank, amount: '100' as unknown as number },
          { account: LedgerAccount.Prepaid, amount: -100, enterpriseId: ENT },
        ]),
      ),
    ).toMatch(/not a safe integer/);
  });

  it('sums exactly beyond the safe range: MAX + MAX − MAX − MAX is zero, MAX + MAX − MAX − (MAX − 1) is not', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const lines = (last: number) =>
      posting([
        { account: LedgerAccount.Bank, amount: max },
        { account: LedgerAccount.Bank, amount: max },
        { account: LedgerAccount.CardFloat, amount: -max },
        { account: LedgerAccount.CardFloat, amount: -last },
      ]);
    expect(() => validatePosting(lines(max))).not.toThrow();
    expect(refusal(lines(max - 1))).toMatch(/sum to 1 fen/);
  });

  it('refuses a per-enterprise account without an enterprise id', () => {
    for (const account of ENTERPRISE_ACCOUNTS) {
      for (const enterpriseId of [undefined, null]) {
        expect(
          refusal(
            posting([
              { account: LedgerAccount.Bank, amount: 100 },
              { account, amount: -100, enterpriseId },
            ]),
          ),
        ).toMatch(/line 1 \(\w+\): a per-enterprise account needs an enterpriseId/);
      }
    }
  });

  it('refuses a platform account carrying an enterprise id', () => {
    const platform = Object.values(LedgerAccount).filter((account) => !ENTERPRISE_ACCOUNTS.has(account));
    expect(platform).toEqual(expect.arrayContaining([LedgerAccount.Bank, LedgerAccount.UnissuedOrders]));
    for (const account of platform) {
      expect(
        refusal(
          posting([
            { account, amount: 100, enterpriseId: ENT },
            { account: LedgerAccount.Prepaid, amount: -100, enterpriseId: ENT },
          ]),
        ),
      ).toMatch(/line 0 \(\w+\): a platform account takes no enterpriseId/);
    }
  });

  it('refuses an unknown account, an empty enterprise id, a bad kind or an empty memo', () => {
    expect(
      refusal(
        posting([
          { account: 'cash' as LedgerAccount, amount: 100 },
          { account: LedgerAccount.Bank, amount: -100 },
        ]),
      ),
    ).toMatch(/unknown account/);
    expect(
      refusal(
        posting([
          { account: LedgerAccount.Bank, amount: 100 },
          { account: LedgerAccount.Prepaid, amount: -100, enterpriseId: '' },
        ]),
      ),
    ).toMatch(/enterpriseId must be a non-empty string/);
    expect(refusal({ ...deposit(100), kind: 'Order Payment' })).toMatch(/kind must be lower snake case/);
    expect(refusal({ ...deposit(100), memo: '  ' })).toMatch(/memo must not be empty/);
    expect(refusal({ ...deposit(100), orderId: '' })).toMatch(/orderId must be a non-empty string/);
  });

  describe('properties', () => {
    const account = fc.constantFrom(...Object.values(LedgerAccount));
    const amount = fc.oneof(
      fc.integer({ min: 1, max: 10_000_000 }),
      fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    );
    const line = fc
      .record({ account, amount, sign: fc.boolean(), enterprise: fc.constantFrom(ENT, OTHER) })
      .map(({ account, amount, sign, enterprise }): LedgerLineInput => ({
        account,
        amount: sign ? amount : -amount,
        ...(ENTERPRISE_ACCOUNTS.has(account) ? { enterpriseId: enterprise } : {}),
      }));
    /** Lines plus a balancing bank line: a valid entry whenever the balance is non-zero and safe. */
    const balanced = fc.array(line, { minLength: 1, maxLength: 8 }).filter((lines) => {
      const sum = lines.reduce((total, l) => total + BigInt(l.amount), 0n);
      return sum !== 0n && sum <= BigInt(Number.MAX_SAFE_INTEGER) && sum >= -BigInt(Number.MAX_SAFE_INTEGER);
    });
    const withBalance = (lines: LedgerLineInput[]): LedgerLineInput[] => [
      ...lines,
      { account: LedgerAccount.Bank, amount: -Number(lines.reduce((total, l) => total + BigInt(l.amount), 0n)) },
    ];

    it('accepts every balanced entry of well-formed lines', () => {
      fc.assert(
        fc.property(balanced, (lines) => {
          validatePosting(posting(withBalance(lines)));
        }),
      );
    });

    it('refuses it again once any one amount is changed', () => {
      fc.assert(
        fc.property(balanced, fc.nat(), fc.integer({ min: 1, max: 1_000 }), (lines, pick, delta) => {
          const entry = withBalance(lines);
          const index = pick % entry.length;
          const changed = entry[index].amount + delta;
          fc.pre(changed !== 0 && Number.isSafeInteger(changed));
          entry[index] = { ...entry[index], amount: changed };
          expect(() => validatePosting(posting(entry))).toThrow(/sum to \d+ fen, not zero/);
        }),
      );
    });
  });
});

describe('enterprisesTouched', () => {
  it('lists the enterprises of per-enterprise lines once each, sorted (the lock order)', () => {
    expect(
      enterprisesTouched(
        posting([
          { account: LedgerAccount.Prepaid, amount: 1, enterpriseId: OTHER },
          { account: LedgerAccount.Receivable, amount: 1, enterpriseId: ENT },
          { account: LedgerAccount.Prepaid, amount: 1, enterpriseId: OTHER },
          { account: LedgerAccount.Bank, amount: -3 },
        ]),
      ),
    ).toEqual([ENT, OTHER]);
    expect(enterprisesTouched(deposit(5))).toEqual([ENT]);
  });
});
