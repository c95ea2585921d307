import { once } from 'node:events';
import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';
import { orderInvoiceNumbersSql } from '../invoicing/invoicing.repository';
import { paidBetweenDaysSql, paidOnSql, reconciliationOrdersSql } from '../orders/orders.repository';
import type { ErpRow } from './reconciliation-match-rows';
import {
  DIFFERENCE_KINDS,
  Reconciliation,
  ReconciliationDifference,
  RESULT_KINDS,
  type DifferenceKind,
  type ResultCounts,
} from './reconciliation.entity';

/** A value in COPY text format: null as \N, the separators and the escape character escaped. */
function copyText(value: string | number | null): string {
  if (value === null) return '\\N';
  return String(value).replace(/[\\\t\n\r]/g, (char) =>
    char === '\\' ? '\\\\' : char === '\t' ? '\\t' : char === '\n' ? '\\n' : '\\r',
  );
}

/**
 * The matching statement (docs/architecture.md, "Reconciliation"): every ERP row of reconciliation $1 joined to
 * enterprise $2's orders (by order id when the row gives one, else by PO number) and their invoice numbers, classified
 * in one pass, the differences written with both sides' values, orders paid in [$3, $4] that no row names added as
 * missing_in_erp (positioned after the upload's $5 rows); returns the count of each kind. Set-based, hash joins only:
 * - each row goes through one join, by id or by PO number (UNION ALL of the two kinds of row), not through both;
 *   the join by PO number is a FULL JOIN, so the orders no row names come out of it too (missing_in_erp, less those
 *   an id row names) without another anti-join over every joined row;
 * - a duplicate is a row after the first of its order (or, unmatched, of its reference): the first row of each
 *   repeated key comes from a hash aggregate over narrow keys, and only repeated keys are joined back, instead of a
 *   window over every (wide) row sorted by key (bench:reconciliation-match, BENCH_EXPLAIN=1);
 * - the classified rows are read once, by the INSERT of the differences, so they stream through it instead of being
 *   kept (100,000 wide rows) for a second scan: the matched rows are counted as the upload's $5 rows less the
 *   differences written for its rows.
 */
export function matchSql(): string {
  const key = `COALESCE(j.fuli_order_id, CASE WHEN j.order_id IS NOT NULL THEN 'id:' || j.order_id
                                              ELSE 'po:' || j.po_number END)`;
  const erpColumns = 'r.row_number, r.order_id, r.po_number, r.amount, r.date, r.invoice_number';
  const fuliColumns =
    'f.id AS fuli_order_id, f.po_number AS fuli_po_number, f.status AS fuli_status, ' +
    'f.paid_amount AS fuli_amount, f.paid_at AS fuli_paid_at';
  return `
    WITH fuli AS (${reconciliationOrdersSql(2)}),
    invoiced AS (${orderInvoiceNumbersSql(2)}),
    by_id AS (
      SELECT ${erpColumns}, ${fuliColumns}
        FROM reconciliation_rows r LEFT JOIN fuli f ON f.id = r.order_id
       WHERE r.reconciliation_id = $1 AND r.order_id IS NOT NULL),
    by_po AS (
      SELECT ${erpColumns}, ${fuliColumns}
        FROM (SELECT * FROM reconciliation_rows WHERE reconciliation_id = $1 AND order_id IS NULL) r
        FULL JOIN fuli f ON f.po_number = r.po_number),
    joined AS NOT MATERIALIZED (
      SELECT * FROM by_id
      UNION ALL
      SELECT * FROM by_po WHERE row_number IS NOT NULL),
    repeated AS (
      SELECT ${key} AS key, min(j.row_number) AS first_row
        FROM joined j GROUP BY 1 HAVING count(*) > 1),
    classified AS (
      SELECT j.*, inv.invoice_number AS fuli_invoice_number, rep.first_row,
             CASE WHEN j.row_number > rep.first_row THEN 'duplicate'
                  WHEN j.fuli_order_id IS NULL THEN 'missing_in_fuli'
                  WHEN j.amount <> j.fuli_amount THEN 'amount_mismatch'
                  WHEN j.invoice_number IS NOT NULL AND j.invoice_number IS DISTINCT FROM inv.invoice_number
                    THEN 'invoice_mismatch'
                  ELSE 'matched' END AS kind
        FROM joined j
        LEFT JOIN invoiced inv ON inv.order_id = j.fuli_order_id
        LEFT JOIN repeated rep ON rep.key = ${key}),
    missing AS (
      SELECT p.fuli_order_id AS id, p.fuli_po_number AS po_number, p.fuli_status AS status,
             p.fuli_amount AS paid_amount, ${paidOnSql('p.fuli_paid_at')} AS paid_on, inv.invoice_number,
             $5::int + row_number() OVER (ORDER BY ${paidOnSql('p.fuli_paid_at')}, p.fuli_order_id) AS position
        FROM by_po p LEFT JOIN invoiced inv ON inv.order_id = p.fuli_order_id
       WHERE p.row_number IS NULL AND ${paidBetweenDaysSql('p.fuli_paid_at', 3, 4)}
         AND NOT EXISTS (SELECT 1 FROM by_id i WHERE i.fuli_order_id = p.fuli_order_id)),
    written AS (
      INSERT INTO reconciliation_differences
             (reconciliation_id, position, kind, row_number, duplicate_of_row, erp_order_id, erp_po_number, erp_amount,
              erp_date, erp_invoice_number, fuli_order_id, fuli_po_number, fuli_order_status, fuli_amount, fuli_date,
              fuli_invoice_number)
      SELECT $1, c.row_number, c.kind, c.row_number, CASE WHEN c.kind = 'duplicate' THEN c.first_row END,
             c.order_id, c.po_number, c.amount, c.date, c.invoice_number, c.fuli_order_id, c.fuli_po_number,
             c.fuli_status, c.fuli_amount, ${paidOnSql('c.fuli_paid_at')}, c.fuli_invoice_number
        FROM classified c WHERE c.kind <> 'matched'
      UNION ALL
      SELECT $1, m.position, 'missing_in_erp', NULL, NULL, NULL, NULL, NULL, NULL, NULL, m.id, m.po_number, m.status,
             m.paid_amount, m.paid_on, m.invoice_number
        FROM missing m
      RETURNING kind, row_number)
    SELECT kind, count(*)::int AS count FROM written GROUP BY kind
    UNION ALL
    SELECT 'matched', $5::int - count(*)::int FROM written WHERE row_number IS NOT NULL`;
}

/**
 * The matching statement's settings, in its transaction: its CTEs of up to 100,000 rows are kept as tuplestores and
 * hashed, a few MB each, which the default 4 MB work_mem wrote to temporary files (bench:reconciliation-match,
 * BENCH_EXPLAIN=1: "temp written" under every CTE scan).
 */
export const MATCH_PLANNER = {
  // jit: compiling the statement's expressions took ~0.1 s of a 0.8 s run at 100,000 rows, more than it saved.
  before: "SET LOCAL work_mem = '64MB'; SET LOCAL jit = off",
  after: 'SET LOCAL work_mem TO DEFAULT; SET LOCAL jit TO DEFAULT',
} as const;

/** The tables `reconciliations`, `reconciliation_rows` and `reconciliation_differences`. */
@Injectable()
export class ReconciliationMatchRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  async insert(ctx: RequestContext, reconciliation: Reconciliation): Promise<void> {
    await this.connection.manager(ctx).insert(Reconciliation, reconciliation);
  }

  /** COPYs checked rows of an upload into reconciliation_rows, in the context's transaction. */
  async copyRows(ctx: RequestContext, reconciliationId: string, rows: readonly ErpRow[]): Promise<void> {
    if (rows.length === 0) return;
    const manager = this.connection.transactionManager(ctx, 'ReconciliationMatchRepository.copyRows');
    const client = (await manager.queryRunner!.connect()) as PoolClient;
    const stream = client.query(
      copyFrom(
        'COPY reconciliation_rows (reconciliation_id, row_number, order_id, po_number, amount, date, invoice_number) FROM STDIN',
      ),
    );
    const done = new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('finish', resolve);
    });
    done.catch(() => undefined);
    const id = copyText(reconciliationId);
    let text = '';
    for (const row of rows) {
      text += `${id}\t${row.rowNumber}\t${copyText(row.orderId)}\t${copyText(row.poNumber)}\t${row.amount}\t${row.date}\t${copyText(row.invoiceNumber)}\n`;
      if (text.length > 65_536) {
        if (!stream.write(text)) await Promise.race([once(stream, 'drain'), done]);
        text = '';
      }
    }
    stream.end(text);
    await done;
  }

  /** Runs the matching statement (matchSql) and returns the count of every kind. */
  async match(
    ctx: RequestContext,
    reconciliation: Pick<Reconciliation, 'id' | 'enterpriseId' | 'periodFrom' | 'periodTo' | 'rowCount'>,
  ): Promise<ResultCounts> {
    await this.connection.query(ctx, MATCH_PLANNER.before);
    const rows = await this.connection.query<Array<{ kind: string; count: number }>>(ctx, matchSql(), [
      reconciliation.id,
      reconciliation.enterpriseId,
      reconciliation.periodFrom,
      reconciliation.periodTo,
      reconciliation.rowCount,
    ]);
    await this.connection.query(ctx, MATCH_PLANNER.after);
    const counts = Object.fromEntries(RESULT_KINDS.map((kind) => [kind, 0])) as ResultCounts;
    for (const row of rows) counts[row.kind as keyof ResultCounts] = row.count;
    return counts;
  }

  /** Clears what an earlier, failed attempt of the same job could have left (it ran in one transaction: nothing). */
  async deleteDifferences(ctx: RequestContext, reconciliationId: string): Promise<void> {
    await this.connection.manager(ctx).delete(ReconciliationDifference, { reconciliationId });
  }

  async find(
    ctx: RequestContext,
    id: string,
    options: { enterpriseId?: string; lock?: boolean } = {},
  ): Promise<Reconciliation | null> {
    return this.connection.manager(ctx).findOne(Reconciliation, {
      where: options.enterpriseId ? { id, enterpriseId: options.enterpriseId } : { id },
      ...(options.lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  async update(
    ctx: RequestContext,
    id: string,
    changes: Partial<Pick<Reconciliation, 'status' | 'counts' | 'failureReason' | 'completedAt'>>,
  ): Promise<void> {
    await this.connection.manager(ctx).update(Reconciliation, { id }, changes);
  }

  /** The enterprise's reconciliations, newest first, `limit` after the cursor. */
  async page(
    ctx: RequestContext,
    enterpriseId: string,
    page: { startingAfter?: string; limit: number },
  ): Promise<Reconciliation[]> {
    const query = this.connection
      .manager(ctx)
      .createQueryBuilder(Reconciliation, 'r')
      .where('r.enterprise_id = :enterpriseId', { enterpriseId });
    if (page.startingAfter) query.andWhere('r.id < :cursor', { cursor: page.startingAfter });
    return query.orderBy('r.id', 'DESC').limit(page.limit).getMany();
  }

  /** Differences in position order after `afterPosition`, of the given kinds. */
  async differences(
    ctx: RequestContext,
    reconciliationId: string,
    page: { afterPosition: number; limit: number; kinds: readonly DifferenceKind[] },
  ): Promise<ReconciliationDifference[]> {
    const query = this.connection
      .manager(ctx)
      .createQueryBuilder(ReconciliationDifference, 'd')
      .where('d.reconciliation_id = :reconciliationId', { reconciliationId })
      .andWhere('d.position > :after', { after: page.afterPosition });
    if (page.kinds.length < DIFFERENCE_KINDS.length) query.andWhere('d.kind IN (:...kinds)', { kinds: page.kinds });
    return query.orderBy('d.position', 'ASC').limit(page.limit).getMany();
  }
}
