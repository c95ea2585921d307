/**
 * `npm run bench:issuance`: issues N cards (BENCH_N, default 1,000,000) through the real worker path and, in the
 * same run on the same Postgres, times the two reference paths for the same number of rows of the same shape:
 *
 * - worker: the full app (API, worker off) in one child process and the real worker (prepareRuntime +
 *   createWorkerApp, default ISSUANCE_CHUNK_SIZE and concurrency) in another; one order of N anonymous 100 CNY
 *   cards placed and paid (bank transfer recorded by the operator) over HTTP; timed from the payment request to the
 *   order turning `issued`. The worker's peak RSS is its VmHWM (/proc/<pid>/status) at the end, boot included.
 * - (a) raw COPY, the limit: N rows generated beforehand (codes, blind index, envelope, PIN digest, as the worker
 *   makes them; not timed), then one `COPY … FROM STDIN` into a scratch table `LIKE cards INCLUDING ALL` (same
 *   indexes and constraints, no foreign keys).
 * - (b) naive: TypeORM `repository.insert` of the same pre-generated rows in 1,000-row chunks into another such
 *   table. Only the first min(N, BENCH_NAIVE_N = 100,000) rows are inserted and the time is extrapolated linearly to
 *   N (said so in the output).
 *
 * Targets: worker ≤ 1.5 × (a), worker ≥ 3 × faster than (b), worker peak RSS ≤ 300 MB; exit 1 if one is missed or
 * if the order does not hold exactly N cards with N distinct serials and codes.
 *
 * Environment: BENCH_N, BENCH_NAIVE_N, BENCH_TIMEOUT_S (default 1,800), DATABASE_URL (default: an embedded Postgres
 * in a temporary directory, removed afterwards), BENCH_PROFILE=1 (the worker runs with --cpu-prof; the profile is
 * written to $TMPDIR/fuli-bench-profiles/ on its exit; read it with `node dist/scripts/cpuprofile.js <file>`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DataSource, Entity } from 'typeorm';
import { DataCipher } from '../src/common/crypto/data-cipher.service';
import { loadConfig } from '../src/config/app-config';
import { appDataSourceOptions } from '../src/entities';
import { generateCodes, generatePins, serialFromSequence } from '../src/cards/card-code';
import { CardSecrets } from '../src/cards/card-secrets';
import { Card } from '../src/cards/card.entity';
import {
  fullEnv,
  freshDataDirAndOperator,
  payOrderByTransfer,
  placeAnonymousOrder,
  positiveInt,
  postgresCpuMicros,
  runBenchmark,
  startServer,
} from './support/harness';
import { nextMessage, serveWorker, workerCpuMicros, type WorkerToChild } from './support/worker-child';

const N = positiveInt('BENCH_N', 1_000_000);
const NAIVE_N = Math.min(N, positiveInt('BENCH_NAIVE_N', 100_000));
const TIMEOUT_MS = positiveInt('BENCH_TIMEOUT_S', 1_800) * 1000;
const PROFILE = process.env.BENCH_PROFILE === '1';
const FACE_VALUE = 10_000;
const NAIVE_CHUNK = 1_000;
/** Rows per pre-generated COPY text block (and per generation step). */
const BLOCK = 10_000;
const TARGET_VS_COPY = 1.5;
const TARGET_VS_NAIVE = 3;
const TARGET_RSS_MB = 300;
const COPY_COLUMNS =
  'serial, order_id, batch_id, enterprise_id, card_type, product_id, face_value, balance, status, expires_at, ' +
  'code_key_id, code_hash, secret_ciphertext, pin_hash';

// ---------------------------------------------------------------- child: the worker

/** Peak resident set (VmHWM) of a live process, in MB; undefined off Linux. */
function peakRssMb(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface WorkerRun {
  seconds: number;
  peakRssMb: number | undefined;
  workerCpuS: number;
  postgresCpuS: number | undefined;
  checks: string[];
  problems: string[];
  profileDir?: string;
}

async function runWorkerPath(): Promise<WorkerRun> {
  const { dataDir, operator } = freshDataDirAndOperator();
  const env = fullEnv(dataDir, operator);
  const server = await startServer('full', env);
  let worker: ChildProcess | undefined;
  try {
    const databaseUrl = server.databaseUrl ?? process.env.DATABASE_URL;
    if (!databaseUrl) throw new Error('the full server did not say which database it uses');
    const profileDir = join(tmpdir(), 'fuli-bench-profiles');
    if (PROFILE) mkdirSync(profileDir, { recursive: true });
    // Same DATA_DIR (so the same generated keys and pepper) and the database the API started.
    worker = fork(__filename, ['--worker'], {
      env: { ...env, DATABASE_URL: databaseUrl },
      execArgv: PROFILE
        ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-name=issuance-worker.cpuprofile']
        : [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await nextMessage(worker, 'ready');
    const workerCpu = () => workerCpuMicros(worker!);

    const placed = await placeAnonymousOrder(server.url, operator, {
      bench: 'Issuance',
      scopes: ['orders:write', 'orders:read'],
      quantity: N,
      faceValue: FACE_VALUE,
    });
    const order = placed.order;

    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const pgDir = process.env.DATABASE_URL ? undefined : join(dataDir, 'postgres');
      const pgCpuBefore = pgDir ? postgresCpuMicros(pgDir) : undefined;
      const cpuBefore = await workerCpu();
      const started = process.hrtime.bigint();
      await payOrderByTransfer(placed.operator, placed.enterprise, order);
      const deadline = Date.now() + TIMEOUT_MS;
      let lastReport = Date.now();
      for (;;) {
        const { rows } = await db.query<{ status: string; issued: number }>(
          'SELECT o.status, COALESCE(sum(b.issued_count), 0)::int AS issued FROM orders o LEFT JOIN issuance_batches b ON b.order_id = o.id WHERE o.id = $1 GROUP BY o.status',
          [order.id],
        );
        if (rows[0].status === 'issued') break;
        if (Date.now() > deadline)
          throw new Error(`not issued after ${TIMEOUT_MS / 1000} s: ${JSON.stringify(rows[0])}`);
        if (Date.now() - lastReport > 10_000) {
          lastReport = Date.now();
          console.log(`  … ${rows[0].issued.toLocaleString('en')} / ${N.toLocaleString('en')} cards`);
        }
        await sleep(20);
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const workerCpuS = ((await workerCpu()) - cpuBefore) / 1e6;
      const pgCpuAfter = pgDir ? postgresCpuMicros(pgDir) : undefined;
      const postgresCpuS =
        pgCpuBefore !== undefined && pgCpuAfter !== undefined ? (pgCpuAfter - pgCpuBefore) / 1e6 : undefined;
      const peak = peakRssMb(worker.pid!);

      const { rows } = await db.query<{ cards: number; serials: number; codes: number; lo: string; hi: string }>(
        `SELECT count(*)::int AS cards, count(DISTINCT serial)::int AS serials, count(DISTINCT code_hash)::int AS codes,
                min(serial)::text AS lo, max(serial)::text AS hi
           FROM cards WHERE order_id = $1`,
        [order.id],
      );
      const found = rows[0];
      const checks = [`cards: ${found.cards} rows, ${found.serials} distinct serials, ${found.codes} distinct codes`];
      const problems: string[] = [];
      if (found.cards !== N || found.serials !== N || found.codes !== N) problems.push(`expected ${N} of each`);
      return {
        seconds,
        peakRssMb: peak,
        workerCpuS,
        postgresCpuS,
        checks,
        problems,
        ...(PROFILE ? { profileDir } : {}),
      };
    } finally {
      await db.end();
    }
  } finally {
    if (worker && worker.exitCode === null) {
      const exited = new Promise<void>((done) => worker!.once('exit', () => done()));
      worker.send({ type: 'stop' } satisfies WorkerToChild);
      const timer = setTimeout(() => worker!.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    // (a) and (b) need the database: run them before the server (and its embedded Postgres) stops.
    await referencePaths.run(server.databaseUrl ?? process.env.DATABASE_URL ?? '');
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- (a) and (b): pre-generated rows

interface Rows {
  /** COPY text blocks, BLOCK rows each. */
  copyBlocks: string[];
  /** The first NAIVE_N rows as entities. */
  entities: Partial<Card>[];
}

/** N rows as the worker makes them (same generators, same sealing), with serials from a range no card uses. */
function pregenerate(): Rows {
  const config = loadConfig({
    NODE_ENV: 'development',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'fuli-bench-keys-')),
    CODE_PEPPER: randomBytes(32).toString('base64'),
    DATA_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  });
  const secrets = new CardSecrets(config, new DataCipher(config));
  const orderId = 'ord_01BENCHBENCHBENCHBENCHBENCH';
  const batchId = 'batch_01BENCHBENCHBENCHBENCHBENC';
  // The batch's facts, as the worker writes them with every card.
  const enterpriseId = 'ent_01BENCHBENCHBENCHBENCHBENCH';
  const productId = 'prd_01BENCHBENCHBENCHBENCHBENCH';
  const expiresAt = new Date(Date.now() + 3 * 365 * 86_400_000);
  const expires = expiresAt.toISOString();
  const fixed = `\t${orderId}\t${batchId}\t${enterpriseId}\tanonymous\t${productId}\t${FACE_VALUE}\t${FACE_VALUE}\tissued\t${expires}\t${secrets.blindIndexKeyId}\t`;
  const first = 9_000_000_000;
  const copyBlocks: string[] = [];
  const entities: Partial<Card>[] = [];
  for (let start = 0; start < N; start += BLOCK) {
    const count = Math.min(BLOCK, N - start);
    const codes = generateCodes(count);
    const pins = generatePins(count);
    const lines = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      const serial = serialFromSequence(first + start + i);
      const hash = secrets.blindIndex(codes[i]);
      const sealed = secrets.seal(serial, codes[i], pins[i]);
      const pinHash = secrets.pinDigest(serial, pins[i]);
      lines[i] = `${serial}${fixed}\\\\x${hash.toString('hex')}\t${sealed}\t\\\\x${pinHash.toString('hex')}\n`;
      if (start + i < NAIVE_N) {
        entities.push({
          serial: Number(serial),
          orderId,
          batchId,
          enterpriseId,
          cardType: 'anonymous',
          productId,
          faceValue: FACE_VALUE,
          balance: FACE_VALUE,
          status: 'issued',
          expiresAt,
          codeHash: hash,
          codeKeyId: secrets.blindIndexKeyId,
          secretCiphertext: sealed,
          pinHash,
        });
      }
    }
    copyBlocks.push(lines.join(''));
  }
  rmSync(config.DATA_DIR, { recursive: true, force: true });
  return { copyBlocks, entities };
}

@Entity('bench_cards_naive')
class NaiveCard extends Card {}

interface ReferenceRun {
  copyS: number;
  naiveS: number;
  naiveRows: number;
}

/** Runs (a) and (b) once the worker path is done, on the same database (set by runWorkerPath). */
const referencePaths = {
  result: undefined as ReferenceRun | undefined,
  error: undefined as unknown,
  async run(databaseUrl: string): Promise<void> {
    try {
      this.result = await runReferencePaths(databaseUrl);
    } catch (error) {
      this.error = error;
    }
  },
};

async function runReferencePaths(databaseUrl: string): Promise<ReferenceRun> {
  console.log(`  pre-generating ${N.toLocaleString('en')} rows for (a) and (b) (not timed) …`);
  const rows = pregenerate();
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query('DROP TABLE IF EXISTS bench_cards_copy, bench_cards_naive');
    await db.query('CREATE TABLE bench_cards_copy (LIKE cards INCLUDING ALL)');
    await db.query('CREATE TABLE bench_cards_naive (LIKE cards INCLUDING ALL)');
    await db.query('CHECKPOINT');

    console.log('  (a) raw COPY …');
    const copyStarted = process.hrtime.bigint();
    await db.query('BEGIN');
    const stream = db.query(copyFrom(`COPY bench_cards_copy (${COPY_COLUMNS}) FROM STDIN`));
    await new Promise<void>((resolvePromise, reject) => {
      stream.on('error', reject);
      stream.on('finish', resolvePromise);
      let i = 0;
      const write = () => {
        while (i < rows.copyBlocks.length) {
          if (!stream.write(rows.copyBlocks[i++])) {
            stream.once('drain', write);
            return;
          }
        }
        stream.end();
      };
      write();
    });
    await db.query('COMMIT');
    const copyS = Number(process.hrtime.bigint() - copyStarted) / 1e9;
    rows.copyBlocks.length = 0;
    await db.query('CHECKPOINT');

    console.log(
      `  (b) TypeORM repository.insert of ${NAIVE_N.toLocaleString('en')} rows in ${NAIVE_CHUNK}-row chunks …`,
    );
    const dataSource = await new DataSource({
      ...appDataSourceOptions(databaseUrl, 2),
      entities: [NaiveCard],
      migrations: [],
    }).initialize();
    let naiveS: number;
    try {
      const repository = dataSource.getRepository(NaiveCard);
      const naiveStarted = process.hrtime.bigint();
      for (let i = 0; i < rows.entities.length; i += NAIVE_CHUNK) {
        await repository.insert(rows.entities.slice(i, i + NAIVE_CHUNK));
      }
      naiveS = Number(process.hrtime.bigint() - naiveStarted) / 1e9;
    } finally {
      await dataSource.destroy();
    }
    const { rows: counted } = await db.query<{ copy: number; naive: number }>(
      'SELECT (SELECT count(*)::int FROM bench_cards_copy) AS copy, (SELECT count(*)::int FROM bench_cards_naive) AS naive',
    );
    if (counted[0].copy !== N || counted[0].naive !== NAIVE_N) {
      throw new Error(`scratch tables hold ${counted[0].copy} and ${counted[0].naive} rows, not ${N} and ${NAIVE_N}`);
    }
    await db.query('DROP TABLE bench_cards_copy, bench_cards_naive');
    return { copyS, naiveS, naiveRows: NAIVE_N };
  } finally {
    await db.end();
  }
}

// ---------------------------------------------------------------- output

function line(cells: string[]): string {
  return cells.map((cell, index) => (index === 0 ? cell.padEnd(34) : cell.padStart(12))).join(' ');
}

async function main(): Promise<number> {
  console.log(
    `bench:issuance: ${N.toLocaleString('en')} cards, ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded Postgres'}`,
  );
  const worker = await runWorkerPath();
  const { error } = referencePaths;
  if (error !== undefined) throw error instanceof Error ? error : new Error(JSON.stringify(error));
  const reference = referencePaths.result;
  if (!reference) throw new Error('the reference paths did not run');
  const naiveFullS = (reference.naiveS * N) / reference.naiveRows;
  const extrapolated = reference.naiveRows < N;
  const rate = (seconds: number) => Math.round(N / seconds).toLocaleString('en');

  console.log(`\n${line(['path', 'seconds', 'rows/s', 'vs (a)', 'vs (b)'])}`);
  const ratioA = worker.seconds / reference.copyS;
  const speedupB = naiveFullS / worker.seconds;
  console.log(
    line([
      'worker (payment → issued)',
      worker.seconds.toFixed(2),
      rate(worker.seconds),
      `${ratioA.toFixed(2)}×`,
      `${(1 / speedupB).toFixed(2)}×`,
    ]),
  );
  console.log(line(['(a) raw COPY, one statement', reference.copyS.toFixed(2), rate(reference.copyS), '1.00×', '']));
  console.log(
    line([
      `(b) TypeORM insert ×${NAIVE_CHUNK}${extrapolated ? ' (extrap.)' : ''}`,
      naiveFullS.toFixed(2),
      rate(naiveFullS),
      `${(naiveFullS / reference.copyS).toFixed(2)}×`,
      '1.00×',
    ]),
  );
  if (extrapolated) {
    console.log(
      `(b) timed on ${reference.naiveRows.toLocaleString('en')} rows (${reference.naiveS.toFixed(2)} s) and extrapolated linearly to ${N.toLocaleString('en')}`,
    );
  }
  const pg = worker.postgresCpuS === undefined ? 'n/a (DATABASE_URL)' : `${worker.postgresCpuS.toFixed(1)} s`;
  console.log(
    `worker path CPU: worker process ${worker.workerCpuS.toFixed(1)} s, Postgres ${pg}, over ${worker.seconds.toFixed(1)} s wall`,
  );
  for (const check of worker.checks) console.log(check);
  if (worker.profileDir) {
    const files = readdirSync(worker.profileDir).filter((name) => name.startsWith('issuance-worker'));
    console.log(`worker CPU profile: ${files.map((name) => join(worker.profileDir!, name)).join(', ')}`);
  }

  const peak = worker.peakRssMb;
  const targets: Array<[string, boolean]> = [
    [`worker ≤ ${TARGET_VS_COPY}× raw COPY: ${ratioA.toFixed(2)}×`, ratioA <= TARGET_VS_COPY],
    [`worker ≥ ${TARGET_VS_NAIVE}× faster than naive: ${speedupB.toFixed(2)}×`, speedupB >= TARGET_VS_NAIVE],
    [
      `worker peak RSS ≤ ${TARGET_RSS_MB} MB: ${peak === undefined ? 'unknown' : `${peak.toFixed(0)} MB`}`,
      peak !== undefined && peak <= TARGET_RSS_MB,
    ],
    [`exactly ${N} cards, serials and codes`, worker.problems.length === 0],
  ];
  console.log('');
  for (const [text, pass] of targets) console.log(`${pass ? 'PASS' : 'FAIL'}  ${text}`);
  for (const problem of worker.problems) console.log(`problem: ${problem}`);
  return targets.every(([, pass]) => pass) ? 0 : 1;
}

if (process.argv[2] === '--worker') {
  serveWorker().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
} else if (require.main === module) {
  runBenchmark('bench:issuance', main);
}
