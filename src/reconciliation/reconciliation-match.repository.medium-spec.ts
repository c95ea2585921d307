import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import type { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { ReconciliationMatchRepository } from './reconciliation-match.repository';
import type { ErpRow } from './reconciliation-match-rows';
import type { Reconciliation } from './reconciliation.entity';

describe('ReconciliationMatchRepository (medium)', () => {
  let db: MediumDatabase;
  let repository: ReconciliationMatchRepository;

  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new ReconciliationMatchRepository(db.connection);
  });
  afterAll(() => db.close());

  /** Orders written as test fixtures (rolled back): paid on 2026-11-10 Shanghai unless `paidAt` is null. */
  async function order(
    ctx: RequestContext,
    enterpriseId: string,
    poNumber: string,
    payable: number,
    paidAt: string | null = '2026-11-10T02:00:00Z',
  ) {
    const id = newId('order');
    await db.connection.query(
      ctx,
      `INSERT INTO orders (id, enterprise_id, po_number, status, face_total, discount_bps, discount_total, payable,
                           payment_method, created_by_client_id, paid_at)
       VALUES ($1, $2, $3, $4, $5, 0, 0, $5, 'prepaid_balance', 'cli_medium', $6)`,
      [id, enterpriseId, poNumber, paidAt ? 'paid' : 'pending_payment', payable, paidAt],
    );
    return id;
  }

  function reconciliation(enterpriseId: string, rowCount: number): Reconciliation {
    return {
      id: newId('reconciliation'),
      enterpriseId,
      status: 'processing',
      format: 'csv',
      filename: null,
      rowCount,
      periodFrom: '2026-11-01',
      periodTo: '2026-11-30',
      periodGiven: true,
      counts: null,
      failureReason: null,
      createdByClientId: 'cli_medium',
      createdAt: new Date(),
      completedAt: null,
    };
  }

  const row = (rowNumber: number, fields: Partial<ErpRow>): ErpRow => ({
    rowNumber,
    orderId: null,
    poNumber: null,
    amount: 0,
    date: '2026-11-10',
    invoiceNumber: null,
    ...fields,
  });

  it('COPYs rows with any text intact and matches them in one statement, both sides kept', async () => {
    await db.rolledBack(async (ctx) => {
      const enterpriseId = newId('enterprise');
      const otherEnterprise = newId('enterprise');
      const a = await order(ctx, enterpriseId, 'PO-A', 10_000);
      const b = await order(ctx, enterpriseId, 'PO-B', 20_000);
      const unpaid = await order(ctx, enterpriseId, 'PO-U', 5_000, null);
      const outside = await order(ctx, enterpriseId, 'PO-OLD', 7_000, '2026-10-31T15:59:59Z'); // 10-31 23:59 Shanghai
      const lastDay = await order(ctx, enterpriseId, 'PO-END', 8_000, '2026-11-30T15:59:59Z'); // 11-30 23:59 Shanghai
      const theirs = await order(ctx, otherEnterprise, 'PO-THEIRS', 1_000);
      const rows = [
        row(1, { poNumber: 'PO-A', amount: 10_000, invoiceNumber: 'tab\there\\and\nnewline' }),
        row(2, { orderId: b, amount: 20_001 }),
        row(3, { orderId: a, amount: 10_000 }),
        row(4, { poNumber: 'PO-U', amount: 5_000 }),
        row(5, { poNumber: 'PO-THEIRS', amount: 1_000 }),
        row(6, { orderId: theirs, amount: 1_000 }),
      ];
      const rec = reconciliation(enterpriseId, rows.length);
      await repository.insert(ctx, rec);
      await repository.copyRows(ctx, rec.id, rows);
      const stored = await db.connection.query<Array<{ invoice_number: string | null }>>(
        ctx,
        'SELECT invoice_number FROM reconciliation_rows WHERE reconciliation_id = $1 ORDER BY row_number',
        [rec.id],
      );
      expect(stored[0].invoice_number).toBe('tab\there\\and\nnewline');

      expect(await repository.match(ctx, rec)).toEqual({
        matched: 0,
        // Row 1 names PO-A with an invoice number the order (not invoiced) lacks.
        invoice_mismatch: 1,
        amount_mismatch: 2,
        duplicate: 1,
        missing_in_fuli: 2,
        missing_in_erp: 1,
      });
      const differences = await repository.differences(ctx, rec.id, {
        afterPosition: 0,
        limit: 100,
        kinds: ['missing_in_fuli', 'missing_in_erp', 'amount_mismatch', 'invoice_mismatch', 'duplicate'],
      });
      expect(
        differences.map((d) => [
          d.position,
          d.kind,
          d.rowNumber,
          d.duplicateOfRow,
          d.erpAmount,
          d.fuliOrderId,
          d.fuliAmount,
        ]),
      ).toEqual([
        [1, 'invoice_mismatch', 1, null, 10_000, a, 10_000],
        [2, 'amount_mismatch', 2, null, 20_001, b, 20_000],
        [3, 'duplicate', 3, 1, 10_000, a, 10_000],
        [4, 'amount_mismatch', 4, null, 5_000, unpaid, 0],
        [5, 'missing_in_fuli', 5, null, 1_000, null, null],
        [6, 'missing_in_fuli', 6, null, 1_000, null, null],
        // PO-END was paid on the period's last Shanghai day; PO-OLD the day before it began.
        [7, 'missing_in_erp', null, null, null, lastDay, 8_000],
      ]);
      expect(differences.some((d) => d.fuliOrderId === outside)).toBe(false);
      const onlyDuplicates = await repository.differences(ctx, rec.id, {
        afterPosition: 0,
        limit: 10,
        kinds: ['duplicate'],
      });
      expect(onlyDuplicates.map((d) => d.position)).toEqual([3]);
      const afterCursor = await repository.differences(ctx, rec.id, {
        afterPosition: 5,
        limit: 1,
        kinds: ['missing_in_fuli', 'missing_in_erp', 'amount_mismatch', 'invoice_mismatch', 'duplicate'],
      });
      expect(afterCursor.map((d) => d.position)).toEqual([6]);
    });
  });
});
