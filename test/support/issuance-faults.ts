/**
 * The issue's fault scenario, shared by test/issuance-faults.e2e-spec.ts (CI-size N) and bench/issuance-faults.ts
 * (N = 1,000,000): one paid order of N cards is minted by the real worker in a child process while faults strike
 * at given fractions of N (the worker SIGKILLed and restarted, or the database stopped and started again), then
 * every invariant is checked: exactly N cards with N distinct codes and envelopes, the serials exactly the batch's
 * range, every chunk minted once with one ledger entry each, one batch.completed and one order.issued, a ledger that
 * verifies, and the API still answering. The runner only reports (checks and problems); callers assert or print.
 */
import { serialFromSequence } from '../../src/cards/card-code';
import type { TestApp } from './app';
import { createProduct, placePaidOrder } from './fixtures';
import type { PrivatePostgres, StopMode } from './private-postgres';
import type { WorkerProcess } from './worker-process';

export type Fault = { kind: 'kill-worker'; at: number } | { kind: 'restart-database'; at: number; mode: StopMode };

export interface FaultRunOptions {
  /** The API, without an in-process worker (startTestApp(…, { worker: false })). */
  app: TestApp;
  /** Cards in the order. */
  n: number;
  /** Each fault strikes once issued_count has passed `at`·n, in order of `at`. */
  faults: Fault[];
  /** From payment to `issued`, faults included. */
  timeoutMs: number;
  /** Starts one real worker process on the app's database (for the first worker, and after each kill). */
  startWorker(): WorkerProcess;
  /** The server to restart for `restart-database` faults. */
  database?: PrivatePostgres;
  /** How long the database stays down at each restart (default 2 s). */
  downMs?: number;
  /** Progress lines while minting (the benchmark prints them); none by default. */
  progress?: (line: string) => void;
}

export interface FaultRunResult {
  orderId: string;
  /** From the first worker's start (the order paid, its jobs waiting) to the order turning `issued`. */
  seconds: number;
  /** What happened when: faults, recoveries, unexpected worker exits. */
  timeline: string[];
  /** Each invariant checked, with what was found. */
  checks: string[];
  /** Invariants that did not hold, and faults that did not happen as planned; empty on success. */
  problems: string[];
  /** Worker processes started, in order; the first ones were killed by the faults. */
  workers: WorkerProcess[];
}

const FACE_VALUE = 10_000;
const POLL_MS = 50;
/** Serials compared per query when checking the range. */
const SERIAL_PAGE = 50_000;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Runs the scenario. Database errors while polling are expected during a restart and retried; a worker that exits
 * without being killed is a problem (a running worker must ride out a database restart), though it is restarted, as
 * a supervisor would, so that the run still ends and reports everything else. (A worker that is still booting when
 * the database stops fails its boot and exits, by design; faults strike a quarter into the batch, long after boot,
 * unless N is only a chunk or two.)
 */
export async function runIssuanceWithFaults(options: FaultRunOptions): Promise<FaultRunResult> {
  const { app, n } = options;
  const chunkSize = app.runtime.config.ISSUANCE_CHUNK_SIZE;
  const faults = [...options.faults].sort((a, b) => a.at - b.at);
  if (faults.some((fault) => fault.kind === 'restart-database') && !options.database) {
    throw new Error('restart-database faults need the private database to restart');
  }
  const timeline: string[] = [];
  const problems: string[] = [];
  const workers: WorkerProcess[] = [];
  const killed = new Set<WorkerProcess>();
  let finished = false;

  const product = await createProduct(app);
  const { enterprise, order, token } = await placePaidOrder(app, `FAULT-${n}`, [
    { product_id: product.id, face_value: FACE_VALUE, quantity: n },
  ]);
  const orderId = order.id;

  const started = Date.now();
  const at = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const note = (line: string) => {
    timeline.push(`${at()}: ${line}`);
    options.progress?.(`  ${at()}: ${line}`);
  };
  const startWorker = () => {
    const worker = options.startWorker();
    workers.push(worker);
    void worker.exited.then(({ code, signal }) => {
      if (killed.has(worker) || finished) return;
      problems.push(`worker pid ${worker.pid} exited by itself (code ${code}, signal ${signal})`);
      note(`worker pid ${worker.pid} exited by itself (code ${code}, signal ${signal}); starting another`);
      startWorker();
    });
    return worker;
  };
  /** issued_count and the order's status; null while the database does not answer (a restart). */
  const progress = async () => {
    try {
      const [row] = await app.dataSource.query<Array<{ issued: number; status: string }>>(
        'SELECT b.issued_count AS issued, o.status FROM issuance_batches b JOIN orders o ON o.id = b.order_id WHERE b.order_id = $1',
        [orderId],
      );
      return row;
    } catch {
      return null;
    }
  };
  const deadline = started + options.timeoutMs;
  const describeQueue = async () => {
    try {
      const jobs = await app.dataSource.query<Array<{ state: string; n: number }>>(
        "SELECT state, count(*)::int AS n FROM bullmq.job WHERE queue = 'issuance' GROUP BY state ORDER BY state",
      );
      return jobs.map((job) => `${job.state} ${job.n}`).join(', ');
    } catch (error) {
      return `unknown (${error instanceof Error ? error.message : String(error)})`;
    }
  };
  const timedOut = async (what: string) => {
    const last = await progress();
    return new Error(
      `${what} after ${at()} (${last ? `${last.issued}/${n}, order ${last.status}` : 'database unreachable'}); ` +
        `issuance jobs: ${await describeQueue()}; ${timeline.join('; ')}`,
    );
  };

  let seconds: number;
  let lastReport = Date.now();
  const report = (issued: number) => {
    if (!options.progress || Date.now() - lastReport < 10_000) return;
    lastReport = Date.now();
    options.progress(`  ${at()}: ${issued.toLocaleString('en')} / ${n.toLocaleString('en')} cards`);
  };

  try {
    startWorker();
    for (const fault of faults) {
      const threshold = Math.ceil(fault.at * n);
      for (;;) {
        const row = await progress();
        if (row && row.issued >= threshold) break;
        if (row) report(row.issued);
        if (Date.now() > deadline) throw await timedOut(`never reached ${threshold} cards`);
        await sleep(POLL_MS);
      }
      const count = (await progress())?.issued;
      if (count === undefined || count >= n) problems.push(`the ${fault.kind} fault at ${fault.at} came too late`);
      if (fault.kind === 'kill-worker') {
        const worker = workers[workers.length - 1];
        killed.add(worker);
        note(`SIGKILL worker pid ${worker.pid} at ${count}/${n}`);
        await worker.kill();
        startWorker();
      } else {
        note(`database ${fault.mode} stop at ${count}/${n}`);
        const { downMs } = await options.database!.restart(fault.mode, options.downMs);
        note(`database accepting connections again, ${(downMs / 1000).toFixed(1)} s after the stop began`);
      }
    }
    for (;;) {
      const row = await progress();
      if (row?.status === 'issued') break;
      if (row) report(row.issued);
      if (Date.now() > deadline) throw await timedOut('not issued');
      await sleep(POLL_MS);
    }
    finished = true;
    seconds = (Date.now() - started) / 1000;
    note('order issued');
  } finally {
    finished = true;
    // The run is over either way: stop what is still running (gracefully) before checking or reporting the failure.
    await Promise.all(workers.map((worker) => worker.stop()));
  }

  const { checks, problems: broken } = await checkIssuedOrder(app, {
    orderId,
    enterpriseId: enterprise.id,
    clientToken: token,
    n,
    chunkSize,
    faceValue: FACE_VALUE,
  });
  // Not an invariant, but what the faults cost: attempts beyond the first, and jobs taken back from a lost worker.
  const [jobs] = await app.dataSource.query<
    Array<{ jobs: number; completed: number; retries: number; stalls: number }>
  >(
    `SELECT count(*)::int AS jobs, count(*) FILTER (WHERE state = 'completed')::int AS completed,
            COALESCE(sum(GREATEST(attempts_made - 1, 0)), 0)::int AS retries, COALESCE(sum(stalled_count), 0)::int AS stalls
       FROM bullmq.job WHERE queue = 'issuance' AND data->>'batchId' IN (SELECT id FROM issuance_batches WHERE order_id = $1)`,
    [orderId],
  );
  checks.push(
    `info mint jobs: ${jobs.jobs}, ${jobs.completed} completed; ${jobs.retries} attempts after a failure, ${jobs.stalls} taken back after a lost lock`,
  );
  const unexpectedExits = problems.filter((problem) => problem.includes('exited by itself')).length;
  checks.push(
    `${unexpectedExits === 0 ? 'ok  ' : 'FAIL'} worker processes: ${workers.length} started, ${killed.size} SIGKILLed by the scenario, ${unexpectedExits} exited by themselves`,
  );
  return { orderId, seconds, timeline, checks, problems: [...problems, ...broken], workers };
}

/** Every invariant of a fully issued order of `n` cards of one line; what was found, and what did not hold. */
export async function checkIssuedOrder(
  app: TestApp,
  order: {
    orderId: string;
    enterpriseId: string;
    clientToken: string;
    n: number;
    chunkSize: number;
    faceValue: number;
  },
): Promise<{ checks: string[]; problems: string[] }> {
  const { orderId, n, chunkSize, faceValue } = order;
  const checks: string[] = [];
  const problems: string[] = [];
  const check = (what: string, found: unknown, expected: unknown) => {
    const ok = JSON.stringify(found) === JSON.stringify(expected);
    checks.push(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${JSON.stringify(found)}`);
    if (!ok) problems.push(`${what}: found ${JSON.stringify(found)}, expected ${JSON.stringify(expected)}`);
  };
  const db = app.dataSource;
  const chunks = Math.ceil(n / chunkSize);

  const [batch] = await db.query<
    Array<{ id: string; serial_start: string; count: number; issued_count: number; status: string }>
  >('SELECT id, serial_start, count, issued_count, status FROM issuance_batches WHERE order_id = $1', [orderId]);
  check('batch count, issued_count, status', [batch.count, batch.issued_count, batch.status], [n, n, 'completed']);

  const [cards] = await db.query<Array<{ cards: number; serials: number; codes: number; secrets: number }>>(
    `SELECT count(*)::int AS cards, count(DISTINCT serial)::int AS serials, count(DISTINCT code_hash)::int AS codes,
            count(DISTINCT secret_ciphertext)::int AS secrets
       FROM cards WHERE order_id = $1`,
    [orderId],
  );
  check('cards, distinct serials, distinct codes, distinct envelopes', cards, {
    cards: n,
    serials: n,
    codes: n,
    secrets: n,
  });

  // The serials, in order, are exactly serialFromSequence(serial_start + i) for i < n: no gap, no stray, no duplicate.
  const start = Number(batch.serial_start);
  let seen = 0;
  let wrong = 0;
  let firstWrong: string | undefined;
  for (let after = '-1'; ;) {
    const page = await db.query<Array<{ serial: string }>>(
      'SELECT serial::text AS serial FROM cards WHERE order_id = $1 AND serial > $2 ORDER BY serial LIMIT $3',
      [orderId, after, SERIAL_PAGE],
    );
    for (const { serial } of page) {
      if (serial !== serialFromSequence(start + seen)) {
        wrong++;
        firstWrong ??= `position ${seen}: ${serial}, expected ${serialFromSequence(start + seen)}`;
      }
      seen++;
    }
    if (page.length < SERIAL_PAGE) break;
    after = page[page.length - 1].serial;
  }
  check(
    `serials are the batch's range ${serialFromSequence(start)} … ${serialFromSequence(start + n - 1)} in order`,
    { serials: seen, outOfPlace: wrong, ...(firstWrong ? { firstWrong } : {}) },
    { serials: n, outOfPlace: 0 },
  );

  const [chunkRows] = await db.query<Array<{ chunks: number; done: number }>>(
    'SELECT count(*)::int AS chunks, count(done_at)::int AS done FROM issuance_chunks WHERE batch_id = $1',
    [batch.id],
  );
  check('chunks, chunks checkpointed', chunkRows, { chunks, done: chunks });

  const [entries] = await db.query<Array<{ entries: number; memos: number; float: string }>>(
    `SELECT count(DISTINCT e.id)::int AS entries, count(DISTINCT e.memo)::int AS memos,
            (-COALESCE(SUM(l.amount) FILTER (WHERE l.account = 'card_float'), 0))::bigint AS float
       FROM ledger_entries e JOIN ledger_lines l ON l.entry_id = e.id
      WHERE e.order_id = $1 AND e.kind = 'cards_issued'`,
    [orderId],
  );
  check('cards_issued ledger entries, distinct memos, card float', entries, {
    entries: chunks,
    memos: chunks,
    float: String(n * faceValue),
  });

  const events = await db.query<Array<{ type: string }>>(
    "SELECT type FROM events WHERE enterprise_id = $1 AND type IN ('batch.completed', 'order.issued') ORDER BY type",
    [order.enterpriseId],
  );
  check(
    'batch.completed and order.issued events',
    events.map((event) => event.type),
    ['batch.completed', 'order.issued'],
  );

  // Through HTTP: the API's own connections came back too.
  const shown = await app.http.get(`/v1/orders/${orderId}`).auth(order.clientToken, { type: 'bearer' });
  check('GET /v1/orders/{id}: HTTP status, order status', [shown.status, shown.body?.status], [200, 'issued']);
  const verify = await app.http.get('/v1/admin/ledger/verify').auth(await app.operatorToken(), { type: 'bearer' });
  check('GET /v1/admin/ledger/verify: HTTP status, ok', [verify.status, verify.body?.ok], [200, true]);
  return { checks, problems };
}
