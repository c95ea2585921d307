/**
 * `npm run bench:reconciliation-match`: matches N uploaded ERP rows (BENCH_N, default 100,000) against N orders and,
 * in the same run, times a raw SQL join of the same rows loaded with COPY (the limit).
 *
 * - Setup (not timed): the app (prepareRuntime + createHttpApp, worker off) in this process, on a scratch database
 *   of DATABASE_URL's server (scratchDatabase) or an embedded Postgres in a temporary DATA_DIR; an enterprise and a
 *   finance client through the public API; N paid orders of the enterprise COPYed in. The ERP file (CSV) names
 *   every order but the last 0.1 % by PO number, 0.1 % of them with another amount, and repeats 0.1 % of its rows:
 *   the differences a finance team would look at. It is uploaded through `POST /v1/reconciliations` (checked and
 *   COPYed in by the request, timed and printed but not part of the ratio).
 * - (a) the job: ReconciliationMatchJob.match, the worker's own handler (the one matching statement, the counts and
 *   the event in one transaction), run BENCH_RUNS times (default 3) on the same upload, reset between runs; median.
 * - (b) the limit: the same rows COPYed into a plain table, then one SELECT joining them to the orders by PO number
 *   and counting matched, different and missing rows on both sides (no duplicates, no invoices, nothing written);
 *   median of BENCH_RUNS.
 * - Verification: the job's counts are the ones built into the file, and agree with the raw join's.
 *
 * Target: (a) ≤ 2 × (b). Exit 1 on a miss. BENCH_EXPLAIN=1 also prints the matching statement's plan with actual
 * times (EXPLAIN ANALYZE, rolled back).
 */
import { rmSync } from 'node:fs';
import { Client as PgClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { closeRuntime, createHttpApp, prepareRuntime } from '../src/bootstrap';
import { newId } from '../src/common/ids';
import { loadConfig } from '../src/config/app-config';
import { ReconciliationMatchJob } from '../src/reconciliation/reconciliation-match.job';
import { MATCH_PLANNER, matchSql } from '../src/reconciliation/reconciliation-match.repository';
import {
  freshDataDirAndOperator,
  fullEnv,
  median,
  positiveInt,
  runBenchmark,
  scratchDatabase,
  tenantToken,
} from './support/harness';

const N = positiveInt('BENCH_N', 100_000);
const RUNS = positiveInt('BENCH_RUNS', 3);
const TARGET_RATIO = 2;
const DAY = '2026-11-15';

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

/** What the file is built to contain. */
function expectedCounts(n: number) {
  const unnamed = Math.max(1, Math.floor(n / 1_000));
  const named = n - unnamed;
  const different = Math.max(1, Math.floor(n / 1_000));
  const repeated = Math.max(1, Math.floor(n / 1_000));
  return { named, unnamed, different, repeated, rows: named + repeated };
}

/** COPY text lines into `sql`'s COPY … FROM STDIN, in slices. */
async function copyLines(client: PgClient, sql: string, lines: Iterable<string>): Promise<void> {
  const stream = client.query(copyFrom(sql));
  await pipeline(
    Readable.from(
      (function* () {
        let slice = '';
        for (const line of lines) {
          slice += line;
          if (slice.length > 65_536) {
            yield slice;
            slice = '';
          }
        }
        if (slice) yield slice;
      })(),
    ),
    stream,
  );
}

runBenchmark('bench:reconciliation-match', async () => {
  const scratch = await scratchDatabase('reconciliation_match');
  const { dataDir, operator } = freshDataDirAndOperator();
  const env = { ...fullEnv(dataDir, operator), DATABASE_URL: scratch?.url ?? '' };
  const runtime = await prepareRuntime(loadConfig(env));
  const app = await createHttpApp(runtime, { worker: false });
  const pg = new PgClient({ connectionString: runtime.database.url });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const baseUrl = await app.getUrl();
    const expected = expectedCounts(N);
    console.log(`reconciliation matching: ${N} orders, ${expected.rows} ERP rows, ${RUNS} runs each`);

    const tenant = await tenantToken(baseUrl, operator, {
      name: 'finance',
      scopes: ['reconciliation:read', 'reconciliation:write'],
    });
    await pg.connect();
    let since = process.hrtime.bigint();
    const paidAt = `${DAY} 10:00:00+08`;
    await copyLines(
      pg,
      'COPY orders (id, enterprise_id, po_number, status, face_total, discount_bps, discount_total, payable, ' +
        'payment_method, created_by_client_id, paid_at) FROM STDIN',
      (function* () {
        for (let i = 1; i <= N; i++) {
          const payable = 10_000 + (i % 97) * 100;
          yield `${newId('order')}\t${tenant.enterpriseId}\tPO-${i}\tpaid\t${payable}\t0\t0\t${payable}\tprepaid_balance\t${tenant.clientId}\t${paidAt}\n`;
        }
      })(),
    );
    await pg.query('ANALYZE orders');
    console.log(`  ${N} orders COPYed in ${seconds(since).toFixed(1)} s`);

    // The ERP's file: orders 1..named by PO number, the first `different` of them one yuan off, the first `repeated`
    // again at the end.
    const erpRows: Array<{ po: string; amount: number }> = [];
    for (let i = 1; i <= expected.named; i++) {
      erpRows.push({ po: `PO-${i}`, amount: 10_000 + (i % 97) * 100 + (i <= expected.different ? 100 : 0) });
    }
    for (let i = 1; i <= expected.repeated; i++) erpRows.push({ ...erpRows[i - 1] });
    const csv = 'po_number,amount_fen,date\n' + erpRows.map((r) => `${r.po},${r.amount},${DAY}`).join('\n') + '\n';

    since = process.hrtime.bigint();
    const response = await fetch(new URL('/v1/reconciliations?filename=bench.csv', baseUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.token}`, 'content-type': 'text/csv' },
      body: csv,
    });
    const uploaded = (await response.json()) as { id: string; row_count: number };
    if (response.status !== 201) throw new Error(`upload: ${response.status} ${JSON.stringify(uploaded)}`);
    console.log(`  upload of ${uploaded.row_count} rows (HTTP, checked, COPYed): ${seconds(since).toFixed(2)} s`);

    const job = app.get(ReconciliationMatchJob);
    const jobTimes: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      await pg.query(`UPDATE reconciliations SET status = 'processing', counts = NULL WHERE id = $1`, [uploaded.id]);
      await pg.query('VACUUM ANALYZE reconciliation_differences');
      since = process.hrtime.bigint();
      const outcome = await job.match({ reconciliationId: uploaded.id });
      jobTimes.push(seconds(since));
      if (!outcome.matched) throw new Error('the job matched nothing');
    }
    if (process.env.BENCH_EXPLAIN === '1') {
      // Where the job's statement spends its time: its plan with actual times, rolled back.
      const {
        rows: [stored],
      } = await pg.query<{ period_from: string; period_to: string; row_count: number }>(
        'SELECT period_from::text, period_to::text, row_count FROM reconciliations WHERE id = $1',
        [uploaded.id],
      );
      await pg.query('BEGIN');
      await pg.query(MATCH_PLANNER.before);
      await pg.query('DELETE FROM reconciliation_differences WHERE reconciliation_id = $1', [uploaded.id]);
      const plan = await pg.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${matchSql()}`, [
        uploaded.id,
        tenant.enterpriseId,
        stored.period_from,
        stored.period_to,
        stored.row_count,
      ]);
      await pg.query('ROLLBACK');
      console.log(plan.rows.map((row) => row['QUERY PLAN']).join('\n'));
    }
    const {
      rows: [{ counts }],
    } = await pg.query<{ counts: Record<string, number> }>('SELECT counts FROM reconciliations WHERE id = $1', [
      uploaded.id,
    ]);
    const want = {
      matched: expected.named - expected.different,
      missing_in_fuli: 0,
      missing_in_erp: expected.unnamed,
      amount_mismatch: expected.different,
      invoice_mismatch: 0,
      duplicate: expected.repeated,
    };
    if (Object.entries(want).some(([kind, count]) => counts[kind] !== count)) {
      throw new Error(`counts ${JSON.stringify(counts)}, expected ${JSON.stringify(want)}`);
    }

    // The limit: the same rows COPYed into a plain table and joined once.
    await pg.query(
      'CREATE UNLOGGED TABLE bench_erp_rows (row_number integer, po_number text, amount bigint, date date)',
    );
    await copyLines(
      pg,
      'COPY bench_erp_rows (row_number, po_number, amount, date) FROM STDIN',
      erpRows.map((r, i) => `${i + 1}\t${r.po}\t${r.amount}\t${DAY}\n`),
    );
    await pg.query('ANALYZE bench_erp_rows');
    const rawTimes: number[] = [];
    let raw: Record<string, string> = {};
    for (let run = 0; run < RUNS; run++) {
      since = process.hrtime.bigint();
      const result = await pg.query<Record<string, string>>(
        `WITH o AS (SELECT id, po_number, payable FROM orders WHERE enterprise_id = $1),
              j AS (SELECT r.amount, o.id, o.payable FROM bench_erp_rows r LEFT JOIN o ON o.po_number = r.po_number)
         SELECT (SELECT count(*) FROM j WHERE j.payable = j.amount) AS equal,
                (SELECT count(*) FROM j WHERE j.payable <> j.amount) AS different,
                (SELECT count(*) FROM j WHERE j.id IS NULL) AS missing_in_fuli,
                (SELECT count(*) FROM o WHERE NOT EXISTS (SELECT 1 FROM j WHERE j.id = o.id)) AS missing_in_erp`,
        [tenant.enterpriseId],
      );
      rawTimes.push(seconds(since));
      raw = result.rows[0];
    }
    // The raw join counts a repeated row like its first: the job sets it apart as a duplicate.
    if (
      Number(raw.missing_in_erp) !== want.missing_in_erp ||
      Number(raw.equal) + Number(raw.different) !== expected.rows
    ) {
      throw new Error(`the raw join disagrees: ${JSON.stringify(raw)}`);
    }

    const jobS = median(jobTimes);
    const rawS = median(rawTimes);
    const ratio = jobS / rawS;
    console.log(
      `  (a) job's matching:      ${jobS.toFixed(3)} s  (runs: ${jobTimes.map((t) => t.toFixed(3)).join(', ')})`,
    );
    console.log(
      `  (b) raw SQL join:        ${rawS.toFixed(3)} s  (runs: ${rawTimes.map((t) => t.toFixed(3)).join(', ')})`,
    );
    console.log(
      `  ratio (a)/(b): ${ratio.toFixed(2)} (target ≤ ${TARGET_RATIO})  ${ratio <= TARGET_RATIO ? 'PASS' : 'FAIL'}`,
    );
    return ratio <= TARGET_RATIO ? 0 : 1;
  } finally {
    await pg.end().catch(() => undefined);
    await app.close();
    await closeRuntime(runtime);
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
