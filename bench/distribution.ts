/**
 * `npm run bench:distribution`: N recipients (BENCH_N, default 100,000) distributed over e-mail into a local SMTP
 * server through the real path, against the limits measured in the same run on the same machine.
 *
 * - SMTP sink: test/support/smtp-sink.ts in discard mode (smtp-server accepting and dropping each message), alone in
 *   a child process (its own event loop, like a provider's relay), so that it never shares a core's loop with this
 *   process or the worker. SMTP_URL of the app and the worker points at it.
 * - Setup (not timed): the full app (API, worker off) in one child process, on a fresh database (a scratch database
 *   created and dropped on the DATABASE_URL server, or an embedded Postgres in a temporary directory); an enterprise,
 *   an HR client with the orders and distributions scopes, a product, an order of N anonymous cards paid and minted
 *   by the real issuance worker in a second child (then stopped); the recipient list uploaded as a CSV file through
 *   `POST /v1/distribution-files` (inline recipients stop at 10,000).
 * - (1) Reservation, in BENCH_ROUNDS rounds (default 5), each with its own order of N cards and its own uploaded
 *   file. The limit is a raw `COPY … FROM STDIN` of the round's assignment rows (the n-th recipient with the n-th
 *   card of the order in serial order, the same columns the reservation writes) into distribution_recipients,
 *   committed, then deleted (and the table vacuumed), once right before and once right after the POST: the round's
 *   limit is their mean, since the machine's noise moves a single COPY by ±30 % from one minute to the next.
 *   `POST /v1/distributions` with the round's file, for a day later (the same statement; nothing to send), is timed
 *   to its response: locking the order, reading the file rows, the one-statement reservation, the event, the
 *   distribution's audit record (with the digests of its assignments' audit summaries), the commit. The target is on
 *   the median of the rounds' ratios. The first round also prints the reservation statement alone
 *   (fileReservationSql, the repository's very statement, in a transaction rolled back before the COPY) and the floor
 *   of any statement writing the rows: the same rows by COPY and by a plain `INSERT … SELECT`, each into a fresh copy
 *   of the table (insertFloor).
 * - (2) Sending: the limit is nodemailer alone sending N prebuilt messages (rendered before timing by the real
 *   template, same size as the worker's) to the same sink over the same pooled transport (smtpTransportOptions of
 *   the same config: SMTP_POOL_SIZE connections), 200 in flight. Then, on an order and a file of its own, the real
 *   worker (prepareRuntime + createWorkerApp, the production `start:worker`) is started, its start-up work done
 *   (boot-time jobs, the rounds' audit jobs), and it sends the distribution: timed from the POST to every recipient
 *   `delivered` (polled every 250 ms), the sink's count checked.
 * - (3) The worker's peak RSS (VmHWM, reset before the POST through /proc/<pid>/clear_refs) over the sending.
 * - (4) The assignments' audit summaries, written after the commit by the audit job in the same worker (decision
 *   0015): all of them in the chain, and when, after the distribution's transaction began.
 *
 * Targets: sending ≥ 0.5 × nodemailer's rate; POST ≤ 2 × the raw COPY (median of the rounds); worker peak RSS ≤
 * 300 MB; N delivered, N messages at the sink, none failed; every assignment in the audit chain. Exit 1 on any
 * miss. The load average is printed at start and end (the machine may be shared).
 *
 * Environment: BENCH_N, BENCH_ROUNDS, BENCH_TIMEOUT_S (per wait, default 1,800), DATABASE_URL, BENCH_EXPLAIN=1
 * (EXPLAIN ANALYZE of the reservation statement alone), BENCH_PARTS=reservation (part (1) only), the documented tuning
 * SMTP_POOL_SIZE, DISTRIBUTION_SEND_BATCH, DISTRIBUTION_SEND_CONCURRENCY (passed to the app and the worker; the
 * baseline uses the same pool size; defaults: the app's), BENCH_PROFILE=1 (the sending worker runs with --cpu-prof;
 * the profile lands in $TMPDIR/fuli-bench-profiles/distribution-<time>/; read it with
 * `node dist/scripts/cpuprofile.js <file>`).
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import nodemailer from 'nodemailer';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { newId } from '../src/common/ids';
import { AppConfig } from '../src/config/app-config';
import { smtpTransportOptions } from '../src/distribution/channels/mail.sender';
import { renderClaimMail } from '../src/distribution/channels/message-templates';
import {
  ASSIGNMENTS_PER_AUDIT_RECORD,
  fileReservationSql,
  RESERVATION_PLANNER,
} from '../src/distribution/distribution.repository';
import { startSmtpSink } from '../test/support/smtp-sink';
import {
  call,
  fullEnv,
  freshDataDirAndOperator,
  issueWithWorker,
  median,
  placeAnonymousOrder,
  positiveInt,
  runBenchmark,
  scratchDatabase,
  startServer,
  waitUntil,
  type Api,
  type Operator,
  type Server,
} from './support/harness';
import { nextMessage, serveWorker, startWorkerProcess, type WorkerProcess } from './support/worker-child';

const N = positiveInt('BENCH_N', 100_000);
const TIMEOUT_MS = positiveInt('BENCH_TIMEOUT_S', 1_800) * 1000;
const PROFILE = process.env.BENCH_PROFILE === '1';
/** BENCH_EXPLAIN=1: print EXPLAIN ANALYZE of the reservation statement alone (a second run of it, rolled back). */
const EXPLAIN = process.env.BENCH_EXPLAIN === '1';
/** BENCH_PARTS=reservation: part (1) only (no nodemailer baseline, no sending): a minute instead of several. */
const RESERVATION_ONLY = process.env.BENCH_PARTS === 'reservation';
/** Rounds of part (1), each with its own order and file; the target is on the median ratio (the machine is noisy). */
const ROUNDS = positiveInt('BENCH_ROUNDS', 5);
/** Added to a round's serials for the COPY after its POST: beyond every serial the card format makes. */
const UNUSED_SERIAL_OFFSET = 10n ** 17n;
const FACE_VALUE = 10_000;
const TARGET_SEND_RATIO = 0.5;
const TARGET_VS_COPY = 2;
const TARGET_RSS_MB = 300;
/** Messages the nodemailer baseline keeps in flight: well above any pool size, so no connection ever waits. */
const BASELINE_IN_FLIGHT = 200;
/** Distinct prebuilt bodies the baseline cycles through (rendering is not what it measures). */
const BASELINE_BODIES = 1_000;
const DEFAULTS = new AppConfig();
/** The documented tuning, from the caller's environment or the app's defaults; app, worker and baseline share it. */
const TUNING = {
  SMTP_POOL_SIZE: positiveInt('SMTP_POOL_SIZE', DEFAULTS.SMTP_POOL_SIZE),
  DISTRIBUTION_SEND_BATCH: positiveInt('DISTRIBUTION_SEND_BATCH', DEFAULTS.DISTRIBUTION_SEND_BATCH),
  DISTRIBUTION_SEND_CONCURRENCY: positiveInt('DISTRIBUTION_SEND_CONCURRENCY', DEFAULTS.DISTRIBUTION_SEND_CONCURRENCY),
};

const email = (i: number) => `employee${i}@bench.example`;
const employeeRef = (i: number) => `E${String(i).padStart(7, '0')}`;
const employeeName = (i: number) => `员工${i}`;

// ---------------------------------------------------------------- child: the SMTP sink

type SinkToParent = { type: 'ready'; port: number } | { type: 'count'; count: number; connections: number };
type SinkToChild = { type: 'count' } | { type: 'stop' };

async function serveSink(): Promise<void> {
  const sink = await startSmtpSink({ discard: true });
  const send = (message: SinkToParent) => process.send?.(message);
  process.on('message', (message: SinkToChild) => {
    if (message.type === 'count') send({ type: 'count', count: sink.count, connections: sink.connections });
    else
      sink.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
  });
  send({ type: 'ready', port: sink.port });
}

interface Sink {
  url: string;
  count(): Promise<{ count: number; connections: number }>;
  stop(): Promise<void>;
}

async function startSink(): Promise<Sink> {
  const child = fork(__filename, ['--sink'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await nextMessage<SinkToParent, 'ready'>(child, 'ready');
  return {
    url: `smtp://127.0.0.1:${port}`,
    async count() {
      const reply = nextMessage<SinkToParent, 'count'>(child, 'count');
      child.send({ type: 'count' } satisfies SinkToChild);
      return reply;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.send({ type: 'stop' } satisfies SinkToChild);
      // smtp-server waits for pooled connections to close: do not wait for it forever.
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------- parent: timing

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

// ---------------------------------------------------------------- setup: an issued order, an uploaded file

interface Setup {
  hr: Api;
  enterpriseId: string;
  enterpriseName: string;
  orderId: string;
}

async function issuedOrder(baseUrl: string, operator: Operator, workerEnv: NodeJS.ProcessEnv, db: Client) {
  const placed = await placeAnonymousOrder(baseUrl, operator, {
    bench: 'Distribution',
    scopes: ['orders:write', 'orders:read', 'distributions:write', 'distributions:read'],
    quantity: N,
    faceValue: FACE_VALUE,
  });
  await issueWithWorker(placed, db, { file: __filename, env: workerEnv }, { timeoutMs: TIMEOUT_MS, everyMs: 250 });
  // What autovacuum does within a minute of a bulk load, long before an HR system uploads a list in practice: with
  // statistics from before this order's 100,000 cards, the planner reads every order's cards to find this one's.
  await db.query('ANALYZE cards');
  return {
    hr: placed.hr,
    enterpriseId: placed.enterprise.id,
    enterpriseName: placed.enterprise.name,
    orderId: placed.order.id,
  } satisfies Setup;
}

/** The recipient list as a CSV file: one e-mail recipient per card, uploaded through the API. */
async function uploadRecipients(baseUrl: string, hr: Api): Promise<string> {
  const lines = ['employee_ref,name,email,channel,face_value'];
  for (let i = 1; i <= N; i++) lines.push(`${employeeRef(i)},${employeeName(i)},${email(i)},email,${FACE_VALUE}`);
  const started = process.hrtime.bigint();
  const file = await call<{ id: string; row_count: number; error_count: number }>(
    new URL('/v1/distribution-files?filename=staff.csv', baseUrl).toString(),
    {
      method: 'POST',
      headers: { authorization: hr.authorization, 'content-type': 'text/csv' },
      body: lines.join('\n') + '\n',
    },
  );
  if (file.row_count !== N || file.error_count !== 0)
    throw new Error(`upload: ${file.row_count} rows, ${file.error_count} errors`);
  console.log(`  uploaded ${N.toLocaleString('en')} recipients (CSV) in ${seconds(started).toFixed(1)} s (setup)`);
  return file.id;
}

/** A fresh order of N cards, issued, and a file of N recipients uploaded for it. */
async function orderAndFile(baseUrl: string, operator: Operator, workerEnv: NodeJS.ProcessEnv, db: Client) {
  const setup = await issuedOrder(baseUrl, operator, workerEnv, db);
  const fileId = await uploadRecipients(baseUrl, setup.hr);
  return { setup, fileId, ...(await orderCards(db, setup.orderId)) };
}

// ---------------------------------------------------------------- (1) the reservation's limit

/** The order's cards in serial order, and its one batch: what the reservation pairs recipients with. */
async function orderCards(db: Client, orderId: string): Promise<{ serials: string[]; batchId: string }> {
  const { rows } = await db.query<{ serial: string }>(
    'SELECT serial::text AS serial FROM cards WHERE order_id = $1 ORDER BY serial',
    [orderId],
  );
  const batches = await db.query<{ id: string }>('SELECT id FROM issuance_batches WHERE order_id = $1', [orderId]);
  if (rows.length !== N || batches.rows.length !== 1)
    throw new Error(`order ${orderId}: ${rows.length} cards, ${batches.rows.length} batches`);
  return { serials: rows.map((row) => row.serial), batchId: batches.rows[0].id };
}

/**
 * The repository's reservation statement alone (fileReservationSql, as POST /v1/distributions runs it for a file):
 * the uploaded file's N rows (channel email, any free card of the face value) read and paired in the database, from
 * this process, in a transaction rolled back: its own time, without the request around it.
 */
async function reservationStatementAlone(db: Client, setup: Setup, fileId: string, batchId: string): Promise<number> {
  const now = new Date();
  const { sql, params } = fileReservationSql(
    {
      distributionId: newId('distribution'),
      enterpriseId: setup.enterpriseId,
      orderId: setup.orderId,
      status: 'queued',
      nextAttemptAt: now,
      claimExpiresAt: new Date(now.getTime() + 30 * 86_400_000),
      batches: [{ batchId, design: 'classic', greeting: null }],
    },
    fileId,
    [{ faceValue: FACE_VALUE, hasRealName: false, cardType: 'anonymous' }],
    { rowNumbers: [], hashes: [] },
  );
  await db.query('BEGIN');
  try {
    await db.query(RESERVATION_PLANNER.before);
    const started = process.hrtime.bigint();
    // One row per audit summary, with the recipients it covers per channel.
    const { rows } = await db.query<Record<'email' | 'sms' | 'link' | 'account', number>>(sql, params);
    const s = seconds(started);
    const paired = rows.reduce((total, row) => total + row.email + row.sms + row.link + row.account, 0);
    if (paired !== N) throw new Error(`the reservation statement alone paired ${paired} of ${N}`);
    if (EXPLAIN) {
      await db.query('ROLLBACK');
      await db.query('BEGIN');
      await db.query(RESERVATION_PLANNER.before);
      const plan = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      console.log(plan.rows.map((row) => `    ${row['QUERY PLAN']}`).join('\n'));
    }
    return s;
  } finally {
    await db.query('ROLLBACK');
  }
}

const COPY_COLUMNS =
  'id, distribution_id, enterprise_id, row_number, employee_ref, name, email, channel, locale, design, face_value, ' +
  'card_serial, status, next_attempt_at';

/**
 * The floor of any statement that writes these rows: the same COPY text loaded into one fresh copy of
 * distribution_recipients (its indexes and checks, LIKE … INCLUDING ALL) by COPY, and into another by a plain
 * `INSERT … SELECT` from a table holding the rows already (filled before timing). Both tables are dropped after.
 * What the reservation statement costs beyond the insert floor is its pairing and its audit summaries.
 */
async function insertFloor(db: Client, buffers: Buffer[]): Promise<{ copyS: number; insertS: number }> {
  const tables = ['bench_floor_rows', 'bench_floor_copy', 'bench_floor_insert'];
  try {
    for (const table of tables) {
      await db.query(`CREATE TABLE ${table} (LIKE distribution_recipients INCLUDING ALL)`);
    }
    await pipeline(Readable.from(buffers), db.query(copyFrom(`COPY bench_floor_rows (${COPY_COLUMNS}) FROM STDIN`)));
    await db.query('VACUUM ANALYZE bench_floor_rows');
    let started = process.hrtime.bigint();
    await pipeline(Readable.from(buffers), db.query(copyFrom(`COPY bench_floor_copy (${COPY_COLUMNS}) FROM STDIN`)));
    const copyS = seconds(started);
    started = process.hrtime.bigint();
    const { rowCount } = await db.query(
      `INSERT INTO bench_floor_insert (${COPY_COLUMNS}) SELECT ${COPY_COLUMNS} FROM bench_floor_rows`,
    );
    const insertS = seconds(started);
    if (rowCount !== N) throw new Error(`insert floor: inserted ${rowCount} rows, not ${N}`);
    return { copyS, insertS };
  } finally {
    await db.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`);
  }
}

/** (1) the limit: a raw COPY of the same assignment rows (text prepared before timing), committed, then deleted. */
async function rawCopy(
  db: Client,
  setup: Setup,
  serials: string[],
): Promise<{ s: number; bytes: number; buffers: Buffer[] }> {
  const distributionId = newId('distribution');
  const now = new Date().toISOString();
  const chunks: string[] = [];
  let chunk = '';
  for (let i = 1; i <= N; i++) {
    chunk +=
      `${newId('distributionRecipient')}\t${distributionId}\t${setup.enterpriseId}\t${i}\t${employeeRef(i)}\t` +
      `${employeeName(i)}\t${email(i)}\temail\tzh-CN\tclassic\t${FACE_VALUE}\t${serials[i - 1]}\tqueued\t${now}\n`;
    if (chunk.length > 64 * 1024) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  chunks.push(chunk);
  const buffers = chunks.map((text) => Buffer.from(text));
  const bytes = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  const started = process.hrtime.bigint();
  await db.query('BEGIN');
  await pipeline(
    Readable.from(buffers),
    db.query(copyFrom(`COPY distribution_recipients (${COPY_COLUMNS}) FROM STDIN`)),
  );
  await db.query('COMMIT');
  const s = seconds(started);
  const { rowCount } = await db.query('DELETE FROM distribution_recipients WHERE distribution_id = $1', [
    distributionId,
  ]);
  if (rowCount !== N) throw new Error(`raw COPY: deleted ${rowCount} rows, not ${N}`);
  return { s, bytes, buffers };
}

// ---------------------------------------------------------------- (2) the sending's limit

/** (2) the limit: nodemailer alone, N prebuilt messages over the app's pooled transport options, to the sink. */
async function nodemailerAlone(sinkUrl: string, fromName: string): Promise<{ s: number; sent: number }> {
  const config = Object.assign(new AppConfig(), { SMTP_URL: sinkUrl, SMTP_POOL_SIZE: TUNING.SMTP_POOL_SIZE });
  const transport = nodemailer.createTransport(smtpTransportOptions(config));
  const bodies = Array.from({ length: BASELINE_BODIES }, (_, i) =>
    renderClaimMail({
      locale: 'zh-CN',
      recipientName: employeeName(i + 1),
      fromName,
      faceValueFen: FACE_VALUE,
      claimUrl: `http://localhost:3000/claim/${randomBytes(32).toString('base64url')}`,
      designImageUrl: 'http://localhost:3000/claim/assets/classic.png',
    }),
  );
  const messages = Array.from({ length: N }, (_, i) => ({
    from: { name: fromName, address: config.MAIL_FROM_ADDRESS },
    to: email(i + 1),
    ...bodies[i % BASELINE_BODIES],
    headers: { 'X-Fuli-Recipient': `drc_bench${i}` },
    disableFileAccess: true,
    disableUrlAccess: true,
  }));
  let next = 0;
  let sent = 0;
  const lane = async () => {
    while (next < messages.length) {
      const message = messages[next++];
      await transport.sendMail(message);
      sent++;
    }
  };
  const started = process.hrtime.bigint();
  try {
    await Promise.all(Array.from({ length: BASELINE_IN_FLIGHT }, lane));
    return { s: seconds(started), sent };
  } finally {
    transport.close();
  }
}

// ---------------------------------------------------------------- (1) + (2) + (3): the distribution

interface Distributed {
  postS: number;
  deliveredS: number;
  delivered: number;
  failed: number;
  peakRssMb: number | undefined;
  workerCpuS: number;
  /** The assignments' audit summaries the job wrote (decision 0015), and when, after the distribution's transaction began. */
  audit: { records: number; afterS: number };
}

/** POST /v1/distributions of the uploaded file, timed to its response (and profiled with BENCH_PROFILE=1). */
async function postDistribution(server: Server, setup: Setup, fileId: string, sendAt?: Date) {
  if (PROFILE) await server.profile('start', 'distribution-post');
  const started = process.hrtime.bigint();
  const created = await call<{ id: string; recipient_count: number }>(
    new URL('/v1/distributions', server.url).toString(),
    {
      method: 'POST',
      headers: {
        authorization: setup.hr.authorization,
        'content-type': 'application/json',
        'idempotency-key': `bench-distribution-${randomBytes(6).toString('hex')}`,
      },
      body: JSON.stringify({
        order_id: setup.orderId,
        file_id: fileId,
        ...(sendAt && { send_at: sendAt.toISOString() }),
      }),
    },
  );
  const postS = seconds(started);
  if (PROFILE) console.log(`API CPU profile of the POST: ${await server.profile('stop', 'distribution-post')}`);
  if (created.recipient_count !== N) throw new Error(`distribution of ${created.recipient_count} recipients, not ${N}`);
  return { created, postS };
}

async function distribute(
  server: Server,
  setup: Setup,
  fileId: string,
  worker: WorkerProcess,
  db: Client,
): Promise<Distributed> {
  const reset = worker.resetPeak();
  const cpuBefore = await worker.cpuMicros();
  const started = process.hrtime.bigint();
  const { created, postS } = await postDistribution(server, setup, fileId);
  const counts = await waitUntil(
    'sending',
    async () =>
      (
        await db.query<{ delivered: number; failed: number; open: number }>(
          `SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
                  count(*) FILTER (WHERE status IN ('failed', 'bounced'))::int AS failed,
                  count(*) FILTER (WHERE status IN ('queued', 'scheduled'))::int AS open
             FROM distribution_recipients WHERE distribution_id = $1`,
          [created.id],
        )
      ).rows[0],
    // Done when every recipient is delivered; a failure (retried much later) ends the wait as soon as nothing moves.
    (value) => value.delivered === N || (value.failed > 0 && value.open === 0),
    { timeoutMs: TIMEOUT_MS, everyMs: 250 },
  );
  const deliveredS = seconds(started);
  const cpuAfter = await worker.cpuMicros();
  const peakRssMb = reset ? worker.peakRssMb() : undefined;
  // The job that writes the assignments' audit summaries ran beside the sending, in the same worker.
  const audit = await waitUntil(
    "the assignments' audit summaries",
    async () =>
      (
        await db.query<{ records: number; after_s: number | null }>(
          // Sealed or still pending: the job's records commit with assignments_audited_at, the seal comes after.
          `SELECT (SELECT count(*) FROM (SELECT 1 FROM audit_records WHERE object_id = d.id AND action = 'distribution.cards_assigned'
                                         UNION ALL
                                         SELECT 1 FROM audit_pending WHERE object_id = d.id AND action = 'distribution.cards_assigned') r)::int
                    AS records,
                  extract(epoch FROM d.assignments_audited_at - d.created_at)::float8 AS after_s
             FROM distributions d WHERE d.id = $1`,
          [created.id],
        )
      ).rows[0],
    (value) => value.after_s !== null && value.records > 0,
    { timeoutMs: TIMEOUT_MS, everyMs: 250 },
  );
  return {
    postS,
    deliveredS,
    delivered: counts.delivered,
    failed: counts.failed,
    peakRssMb,
    workerCpuS: (cpuAfter - cpuBefore) / 1e6,
    audit: { records: audit.records, afterS: audit.after_s! },
  };
}

// ---------------------------------------------------------------- main

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

function line(cells: string[]): string {
  return cells.map((cell, index) => (index === 0 ? cell.padEnd(44) : cell.padStart(12))).join(' ');
}

async function main(): Promise<number> {
  const tuning = Object.entries(TUNING)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  console.log(
    `bench:distribution: ${N.toLocaleString('en')} e-mail recipients, ${process.env.DATABASE_URL ? 'scratch database on DATABASE_URL' : 'embedded Postgres'}; ${tuning}`,
  );
  console.log(`machine: ${cpus().length} cores, load average ${load()} at start`);
  const sink = await startSink();
  const scratch = await scratchDatabase('distribution');
  const { dataDir, operator } = freshDataDirAndOperator();
  const tuningEnv = Object.fromEntries(Object.entries(TUNING).map(([key, value]) => [key, String(value)]));
  const env = {
    ...fullEnv(dataDir, operator),
    ...(scratch ? { DATABASE_URL: scratch.url } : {}),
    SMTP_URL: sink.url,
    ...tuningEnv,
  };
  let server: Server | undefined;
  let sender: WorkerProcess | undefined;
  let db: Client | undefined;
  try {
    server = await startServer('full', env);
    const databaseUrl = server.databaseUrl ?? scratch?.url;
    if (!databaseUrl) throw new Error('the full server did not say which database it uses');
    db = new Client({ connectionString: databaseUrl });
    await db.connect();
    const workerEnv = { ...env, DATABASE_URL: databaseUrl };

    // (1) limits of the reservation, in ROUNDS rounds (each its own order of N cards and uploaded file): a raw COPY
    // of the round's assignment rows (committed, deleted) right before its POST and one right after, their mean the
    // round's limit. The first round also times the statement alone (rolled back) and the insert floor. Every round
    // distributes for a day later (scheduled: nothing to send); the distribution sent in (2) has an order of its own.
    const rounds: Array<{ copyS: number; postS: number }> = [];
    let statementS = 0;
    let floor = { copyS: 0, insertS: 0 };
    let copyBytes = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const { setup, fileId, serials, batchId } = await orderAndFile(server.url, operator, workerEnv, db);
      if (round === 1) {
        statementS = await reservationStatementAlone(db, setup, fileId, batchId);
        await db.query('VACUUM ANALYZE distribution_recipients');
      }
      const before = await rawCopy(db, setup, serials);
      await db.query('VACUUM ANALYZE distribution_recipients');
      if (round === 1) floor = await insertFloor(db, before.buffers);
      // For a day later: nothing to send, the same statement (recipients `scheduled` instead of `queued`).
      const { postS } = await postDistribution(server, setup, fileId, new Date(Date.now() + 86_400_000));
      // The POST holds the order's cards now: the same rows with serials no card has (card_serial has no foreign key).
      const after = await rawCopy(
        db,
        setup,
        serials.map((serial) => (BigInt(serial) + UNUSED_SERIAL_OFFSET).toString()),
      );
      await db.query('VACUUM ANALYZE distribution_recipients');
      copyBytes = after.bytes;
      const copyS = (before.s + after.s) / 2;
      rounds.push({ copyS, postS });
      console.log(
        `  round ${round}: raw COPY ${before.s.toFixed(2)} s before, ${after.s.toFixed(2)} s after; ` +
          `POST /v1/distributions ${postS.toFixed(2)} s, ${(postS / copyS).toFixed(2)}× their mean`,
      );
    }
    console.log(
      `  the reservation statement alone ${statementS.toFixed(2)} s; insert floor, on fresh copies of the table: ` +
        `COPY ${floor.copyS.toFixed(2)} s, INSERT … SELECT ${floor.insertS.toFixed(2)} s (${(floor.insertS / floor.copyS).toFixed(2)}×)`,
    );
    const ratios = rounds.map((round) => round.postS / round.copyS);
    const copyRatio = median(ratios);
    const ratioLine =
      `reservation (POST response) ≤ ${TARGET_VS_COPY}× raw COPY: median of ${ROUNDS} rounds ${copyRatio.toFixed(2)}× ` +
      `(${ratios.map((ratio) => ratio.toFixed(2)).join(', ')})`;
    if (RESERVATION_ONLY) {
      console.log(`load average ${load()} at end (BENCH_PARTS=reservation: no sending)`);
      const met = copyRatio <= TARGET_VS_COPY;
      console.log(`${met ? 'PASS' : 'FAIL'}  ${ratioLine}`);
      return met ? 0 : 1;
    }

    // The distribution the worker sends: an order and a file of its own.
    const { setup, fileId } = await orderAndFile(server.url, operator, workerEnv, db);

    // (2) limit of the sending: nodemailer alone into the same sink.
    const before = await sink.count();
    const baseline = await nodemailerAlone(sink.url, setup.enterpriseName);
    const afterBaseline = await sink.count();
    if (afterBaseline.count - before.count !== N)
      throw new Error(`nodemailer alone: the sink took ${afterBaseline.count - before.count} of ${N}`);
    console.log(`  nodemailer alone ${baseline.s.toFixed(2)} s (${Math.round(N / baseline.s)}/s)`);

    const profileDir = join(tmpdir(), 'fuli-bench-profiles', `distribution-${Date.now()}`);
    if (PROFILE) mkdirSync(profileDir, { recursive: true });
    sender = await startWorkerProcess(
      __filename,
      workerEnv,
      PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    );
    // The worker's start-up work first, as in a running deployment: its boot-time jobs, and the assignments' audit
    // jobs of the rounds' distributions.
    await waitUntil(
      "the rounds' audit jobs",
      async () =>
        (
          await db!.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM distributions WHERE assignments_audited_at IS NULL',
          )
        ).rows[0].n,
      (unaudited) => unaudited === 0,
      { timeoutMs: TIMEOUT_MS, everyMs: 250 },
    );
    const run = await distribute(server, setup, fileId, sender, db);
    const afterRun = await sink.count();
    const atSink = afterRun.count - afterBaseline.count;
    await sender.stop();
    sender = undefined;
    console.log(`load average ${load()} at end\n`);

    const rate = (s: number) => `${Math.round(N / s).toLocaleString('en')}/s`;
    console.log(line(['', 'seconds', 'rows/s', 'ratio']));
    const lastCopyS = rounds[rounds.length - 1].copyS;
    console.log(
      line(['(1) raw COPY of the assignment rows (last round)', lastCopyS.toFixed(2), rate(lastCopyS), '1.00×']),
    );
    console.log(
      line([
        '    reservation statement alone (rolled back)',
        statementS.toFixed(2),
        rate(statementS),
        `${(statementS / lastCopyS).toFixed(2)}×`,
      ]),
    );
    console.log(
      line([
        '    INSERT … SELECT of the rows (fresh table)',
        floor.insertS.toFixed(2),
        rate(floor.insertS),
        `${(floor.insertS / floor.copyS).toFixed(2)}× its COPY`,
      ]),
    );
    console.log(
      line([
        '    POST /v1/distributions (last round)',
        rounds[rounds.length - 1].postS.toFixed(2),
        rate(rounds[rounds.length - 1].postS),
        `${ratios[ratios.length - 1].toFixed(2)}×`,
      ]),
    );
    console.log(line([`    POST / COPY, median of ${ROUNDS} rounds`, '', '', `${copyRatio.toFixed(2)}×`]));
    console.log(
      line([
        '    POST of the distribution sent in (2)',
        run.postS.toFixed(2),
        rate(run.postS),
        `${(run.postS / lastCopyS).toFixed(2)}×`,
      ]),
    );
    console.log(line(['(2) nodemailer alone, prebuilt messages', baseline.s.toFixed(2), rate(baseline.s), '1.00']));
    const sendRatio = baseline.s / run.deliveredS;
    console.log(
      line([
        '    POST → all delivered (worker)',
        run.deliveredS.toFixed(2),
        rate(run.deliveredS),
        sendRatio.toFixed(2),
      ]),
    );
    console.log(
      `\nCOPY text ${(copyBytes / 1e6).toFixed(1)} MB; worker CPU ${run.workerCpuS.toFixed(1)} s over ${run.deliveredS.toFixed(1)} s ` +
        `(${((run.workerCpuS * 1e6) / N).toFixed(0)} µs/recipient); sink: ${atSink.toLocaleString('en')} messages, ` +
        `${afterRun.connections - afterBaseline.connections} SMTP connections (baseline ${afterBaseline.connections - before.connections})`,
    );
    if (PROFILE) {
      for (const name of readdirSync(profileDir)) console.log(`sending worker CPU profile: ${join(profileDir, name)}`);
    }

    const targets: Array<[string, boolean]> = [
      [
        `sending ≥ ${TARGET_SEND_RATIO} × nodemailer alone: ${rate(run.deliveredS)} vs ${rate(baseline.s)} = ${sendRatio.toFixed(2)}`,
        sendRatio >= TARGET_SEND_RATIO,
      ],
      [ratioLine, copyRatio <= TARGET_VS_COPY],
      [
        `worker peak RSS ≤ ${TARGET_RSS_MB} MB: ${run.peakRssMb === undefined ? 'unknown (no /proc/<pid>/clear_refs)' : `${run.peakRssMb.toFixed(0)} MB`}`,
        run.peakRssMb !== undefined && run.peakRssMb <= TARGET_RSS_MB,
      ],
      [
        `all delivered: ${run.delivered}/${N} delivered, ${run.failed} failed or bounced, ${atSink} at the sink`,
        run.delivered === N && run.failed === 0 && atSink === N,
      ],
      [
        `assignments in the audit chain: ${run.audit.records} summaries of ${ASSIGNMENTS_PER_AUDIT_RECORD} (of ` +
          `${Math.ceil(N / ASSIGNMENTS_PER_AUDIT_RECORD)}), written by the job ${run.audit.afterS.toFixed(2)} s after the ` +
          `distribution's transaction began`,
        run.audit.records === Math.ceil(N / ASSIGNMENTS_PER_AUDIT_RECORD),
      ],
    ];
    console.log('');
    for (const [text, pass] of targets) console.log(`${pass ? 'PASS' : 'FAIL'}  ${text}`);
    return targets.every(([, pass]) => pass) ? 0 : 1;
  } finally {
    await sender?.stop();
    await db?.end().catch(() => undefined);
    await server?.stop();
    await sink.stop();
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--sink') {
  serveSink().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else if (process.argv[2] === '--worker') {
  serveWorker().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
} else if (require.main === module) {
  runBenchmark('bench:distribution', main);
}
