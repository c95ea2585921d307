import { randomBytes } from 'node:crypto';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { LedgerAccount } from './ledger.entity';
import { ledgerEntrySql, LedgerRepository } from './ledger.repository';
import type { LedgerPosting } from './ledger-posting';

describe('LedgerRepository (medium)', () => {
  let db: MediumDatabase;
  let ledger: LedgerRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    ledger = new LedgerRepository(db.connection);
  });
  afterAll(() => db.close());

  const fresh = () => `medium${randomBytes(6).toString('hex')}`;
  const record = (posting: LedgerPosting, id = `jrn_${fresh()}`) => ({
    id,
    kind: posting.kind,
    memo: posting.memo,
    enterpriseId: posting.enterpriseId ?? null,
    orderId: posting.orderId ?? null,
    paymentId: null,
    requestId: 'req_medium',
  });

  it('writes an entry with its lines in one statement, and sums them by account and order', () =>
    db.rolledBack(async (ctx) => {
      const enterpriseId = `ent_${fresh()}`;
      const orderId = `ord_${fresh()}`;
      const posting: LedgerPosting = {
        kind: 'deposit',
        memo: 'medium deposit',
        enterpriseId,
        orderId,
        lines: [
          { account: LedgerAccount.Bank, amount: 7_000 },
          { account: LedgerAccount.Prepaid, amount: -7_000, enterpriseId },
        ],
      };
      await ledger.lockEnterpriseFunds(ctx, enterpriseId);
      expect(await ledger.insertEntry(ctx, record(posting), posting)).toBeInstanceOf(Date);
      expect(await ledger.accountSum(ctx, LedgerAccount.Prepaid, enterpriseId)).toBe('-7000');
      expect(await ledger.orderSum(ctx, orderId, LedgerAccount.Bank)).toBe('7000');
      expect(await ledger.funds(ctx, enterpriseId)).toBeNull();
    }));

  it('composes an entry into a statement: written once per source row, validated, never on enterprise funds', () =>
    db.rolledBack(async (ctx) => {
      const posting: LedgerPosting = {
        kind: 'card_debit',
        memo: 'medium debit',
        lines: [
          { account: LedgerAccount.CardFloat, amount: 300 },
          { account: LedgerAccount.RevenueRedeemed, amount: -300 },
        ],
      };
      const run = async (rows: number, id: string) => {
        const fragment = ledgerEntrySql(posting, record(posting, id), { source: 'src', firstParam: 2 });
        await db.connection.query(
          ctx,
          `WITH src AS (SELECT g FROM generate_series(1, $1::int) g), ${fragment.sql} SELECT 1`,
          [rows, ...fragment.params],
        );
        return db.connection.query<Array<{ amount: string }>>(
          ctx,
          'SELECT amount::text AS amount FROM ledger_lines WHERE entry_id = $1 ORDER BY id',
          [id],
        );
      };
      expect(await run(0, `jrn_${fresh()}`)).toEqual([]);
      expect(await run(1, `jrn_${fresh()}`)).toEqual([{ amount: '300' }, { amount: '-300' }]);
      expect(() =>
        ledgerEntrySql({ ...posting, lines: [{ account: LedgerAccount.CardFloat, amount: 1 }] }, record(posting), {
          source: 'src',
          firstParam: 1,
        }),
      ).toThrow('at least two lines');
      const prepaid: LedgerPosting = {
        kind: 'deposit',
        memo: 'x',
        lines: [
          { account: LedgerAccount.Bank, amount: 1 },
          { account: LedgerAccount.Prepaid, amount: -1, enterpriseId: 'ent_x' },
        ],
      };
      expect(() => ledgerEntrySql(prepaid, record(prepaid), { source: 'src', firstParam: 1 })).toThrow(
        'LedgerService.post',
      );
    }));

  it("verifies within the caller's transaction, seeing its own writes", () =>
    db.rolledBack(async (ctx) => {
      const { entries } = await ledger.verify(ctx);
      expect(Number(entries)).toBeGreaterThanOrEqual(0);
    }));
});
