/**
 * `npm run bench:statements`: an enterprise with N card movements (BENCH_N, default 1,000,000); its statement for the
 * whole period streamed through the API as CSV and as XLSX, against the limit measured in the same run on the same
 * Postgres: a raw `COPY (SELECT …) TO STDOUT` of the same rows (statementCopySql, the very statement the API runs),
 * drained in this process.
 *
 * - Setup (not timed): the full app (API, worker off) in one child process on a scratch database (DATABASE_URL) or an
 *   embedded Postgres; an enterprise and a finance client through the API; then, straight into the tables with
 *   INSERT … SELECT generate_series (the fixture is not what is measured): N / 10 bound cards of one order, N card
 *   movements (debits of 1 fen, one redemption each tenth) spread over the period, a deposit and the cards' minting
 *   in the ledger; ANALYZE.
 * - Each round (BENCH_ROUNDS, default 1, after one untimed COPY that warms the cache) times, back to back: (a) the raw
 *   COPY, (b) `GET /v1/statements?format=csv`, (c) `GET /v1/statements?format=xlsx`, each body drained and counted.
 *   The API process's peak RSS is reset before (b) and (c) (/proc/<pid>/clear_refs) and read after each (VmHWM).
 *
 * Targets: CSV ≤ 2 × the raw COPY, XLSX ≤ 5 ×, API peak RSS ≤ 300 MB; exit 1 if any is missed.
 * Environment: BENCH_N, BENCH_ROUNDS, DATABASE_URL (a server to create the scratch database on).
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { statementCopySql } from '../src/reconciliation/statement.repository';
import { median, positiveInt, runBenchmark, scratchDatabase, tenantToken, withFullServer } from './support/harness';

const CSV_LIMIT = 2;
const XLSX_LIMIT = 5;
const RSS_LIMIT_MB = 300;

/** The pid of this process's child that serves the full app (startServer forks it). */
function serverPid(): number {
  const children = readdirSync('/proc/self/task').flatMap((task) =>
    readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
  const pid = children.find((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('--serve');
    } catch {
      return false;
    }
  });
  if (!pid) throw new Error('the API process was not found among this process’s children');
  return pid;
}

function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('VmHWM:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024;
}

/** Drains a response body; its size in bytes and newline count. */
async function drain(body: AsyncIterable<Uint8Array>): Promise<{ bytes: number; lines: number }> {
  let bytes = 0;
  let lines = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
  }
  return { bytes, lines };
}

async function seconds<T>(work: () => Promise<T>): Promise<{ value: T; s: number }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { value, s: Number(process.hrtime.bigint() - start) / 1e9 };
}

/** N card movements of one enterprise and the ledger entries of its deposit and its cards' minting. */
async function buildFixture(db: Client, enterpriseId: string, n: number, from: Date, to: Date): Promise<void> {
  const cards = Math.max(1, Math.floor(n / 10));
  const step = (to.getTime() - from.getTime()) / (n + 2);
  const at = (i: string) => `$2::timestamptz + (${i}) * ($3 || ' milliseconds')::interval`;
  await db.query('BEGIN');
  await db.query(
    `INSERT INTO ledger_entries (id, kind, memo, enterprise_id, order_id, created_at)
     VALUES ('jrn_benchdeposit', 'deposit', 'Bank transfer BENCH', $1, NULL, $2::timestamptz),
            ('jrn_benchissued', 'cards_issued', 'Bench cards', $1, 'ord_bench', $2::timestamptz + interval '1 ms')`,
    [enterpriseId, from],
  );
  await db.query(
    `INSERT INTO ledger_lines (entry_id, account, enterprise_id, amount) VALUES
       ('jrn_benchdeposit', 'bank', NULL, $2), ('jrn_benchdeposit', 'prepaid', $1, -$2::bigint),
       ('jrn_benchissued', 'unissued_orders', NULL, $2), ('jrn_benchissued', 'card_float', NULL, -$2::bigint)`,
    [enterpriseId, cards * 10_000],
  );
  await db.query(
    `INSERT INTO cards (serial, order_id, batch_id, enterprise_id, card_type, product_id, face_value, balance, status,
       code_hash, holder_ref, bound_client_id, bound_at)
     SELECT 100000000000 + i, 'ord_bench', 'bat_bench', $1, 'anonymous', 'prd_bench', 10000, 10000 - 10, 'active',
       decode(md5('bench' || i), 'hex'), 'holder-' || i, 'cli_benchchannel', $2::timestamptz
     FROM generate_series(0, $3::int - 1) AS i`,
    [enterpriseId, from, cards],
  );
  await db.query(
    `INSERT INTO card_transactions (serial, enterprise_id, kind, amount, balance_after, redemption_id, holder_ref,
       client_id, created_at)
     SELECT 100000000000 + (i % $4::int), $1, 'debit', -1, 9999, CASE WHEN i % 10 = 0 THEN 'rdm_bench' || i END,
       'holder-' || (i % $4::int), 'cli_benchchannel', ${at('i + 2')}
     FROM generate_series(0, $5::int - 1) AS i`,
    [enterpriseId, from, String(step), cards, n],
  );
  await db.query('COMMIT');
  await db.query('ANALYZE cards; ANALYZE card_transactions; ANALYZE ledger_entries; ANALYZE ledger_lines');
}

async function main(): Promise<number> {
  const n = positiveInt('BENCH_N', 1_000_000);
  const rounds = positiveInt('BENCH_ROUNDS', 1);
  const scratch = await scratchDatabase('statements');
  if (scratch) process.env.DATABASE_URL = scratch.url;
  try {
    return await withFullServer(async (server, operatorClient) => {
      const tenant = await tenantToken(server.url, operatorClient, {
        name: 'finance',
        scopes: ['reconciliation:read'],
      });
      const db = new Client({ connectionString: server.databaseUrl ?? process.env.DATABASE_URL });
      await db.connect();
      try {
        const from = new Date('2026-01-01T00:00:00+08:00');
        const to = new Date('2026-12-31T16:00:00Z');
        const setup = await seconds(() => buildFixture(db, tenant.enterpriseId, n, from, to));
        console.log(`fixture: ${n} card movements in ${setup.s.toFixed(1)} s`);
        const raw = async () => {
          await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          const copied = await drain(
            db.query(
              copyTo(
                statementCopySql((value) => db.escapeLiteral(value), tenant.enterpriseId, from, to, { escape: true }),
              ),
            ),
          );
          await db.query('COMMIT');
          return copied;
        };
        const pid = serverPid();
        const url = (format: string) => `${server.url}/v1/statements?from=2026-01-01&to=2026-12-31&format=${format}`;
        const api = async (format: string) => {
          const response = await fetch(url(format), { headers: { authorization: `Bearer ${tenant.token}` } });
          if (response.status !== 200 || !response.body)
            throw new Error(`${format}: ${response.status} ${await response.text()}`);
          return drain(response.body);
        };
        await raw();
        const ratios = { csv: [] as number[], xlsx: [] as number[] };
        const rss = { csv: 0, xlsx: 0 };
        for (let round = 1; round <= rounds; round++) {
          const copy = await seconds(raw);
          resetPeakRss(pid);
          const csv = await seconds(() => api('csv'));
          rss.csv = Math.max(rss.csv, peakRssMb(pid));
          resetPeakRss(pid);
          const xlsx = await seconds(() => api('xlsx'));
          rss.xlsx = Math.max(rss.xlsx, peakRssMb(pid));
          // Header, N + 2 lines (the deposit and the minting), totals: the same rows as the raw COPY's.
          if (csv.value.lines !== copy.value.lines + 2) {
            throw new Error(`the CSV has ${csv.value.lines} lines, the raw COPY ${copy.value.lines} (+2 expected)`);
          }
          ratios.csv.push(csv.s / copy.s);
          ratios.xlsx.push(xlsx.s / copy.s);
          console.log(
            `round ${round}: raw COPY ${copy.s.toFixed(2)} s (${copy.value.lines} rows, ${(copy.value.bytes / 1e6).toFixed(0)} MB); ` +
              `CSV ${csv.s.toFixed(2)} s (${(csv.value.bytes / 1e6).toFixed(0)} MB) ×${(csv.s / copy.s).toFixed(2)}; ` +
              `XLSX ${xlsx.s.toFixed(2)} s (${(xlsx.value.bytes / 1e6).toFixed(0)} MB) ×${(xlsx.s / copy.s).toFixed(2)}`,
          );
        }
        const csvRatio = median(ratios.csv);
        const xlsxRatio = median(ratios.xlsx);
        const peak = Math.max(rss.csv, rss.xlsx);
        console.log(
          `bench:statements N=${n}: CSV ×${csvRatio.toFixed(2)} (limit ×${CSV_LIMIT}), XLSX ×${xlsxRatio.toFixed(2)} ` +
            `(limit ×${XLSX_LIMIT}), API peak RSS CSV ${rss.csv.toFixed(0)} MB, XLSX ${rss.xlsx.toFixed(0)} MB (limit ${RSS_LIMIT_MB} MB)`,
        );
        const ok = csvRatio <= CSV_LIMIT && xlsxRatio <= XLSX_LIMIT && peak <= RSS_LIMIT_MB;
        console.log(ok ? 'PASS' : 'FAIL');
        return ok ? 0 : 1;
      } finally {
        await db.end();
      }
    });
  } finally {
    await scratch?.drop();
  }
}

runBenchmark('bench:statements', main);
