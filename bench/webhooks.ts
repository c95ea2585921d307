/**
 * `npm run bench:webhooks`: N events (BENCH_N, default 10,000) delivered to a local receiver through the real path,
 * on both queue backends, against the receiver's raw capacity measured in the same run.
 *
 * - receiver: a child process (one core, like a client's ERP endpoint) that does what the README's receiver does
 *   for every request: verify the Standard Webhooks signature with the `standardwebhooks` package, deduplicate by
 *   webhook-id, answer 204. It also records, per event, the lag from the event's `created_at` to its arrival.
 * - raw capacity, the limit: autocannon (in this process) POSTing one validly signed delivery at the receiver with
 *   32 connections (the old per-host limit) and with as many as the worker may keep to one origin
 *   (MAX_CONNECTIONS_PER_ORIGIN), BENCH_DURATION seconds (default 10) each; the higher rate is the capacity.
 * - delivery, per backend (postgres, then redis when Redis answers): the full app (API, worker off) in one child
 *   process and the real worker (prepareRuntime + createWorkerApp) in another, on a fresh database; an enterprise
 *   registers one endpoint (`*`) at the receiver over the API; then N events are committed into the outbox in one
 *   transaction (as N state changes would leave them) and timed until the receiver has all N: the worker relays
 *   them, enqueues one job per batch of deliveries, claims each batch in one statement, signs and POSTs its
 *   deliveries at once over a keep-alive pool, and records the batch's attempts in one statement.
 *
 * Printed: a table (deliveries/s, p50/p99 lag from event to receipt, the ratio to the raw capacity, lost,
 * duplicates) and a verdict per target and backend: ratio ≥ 0.25, every event received exactly once as far as the
 * receiver's dedup can tell, N delivery rows `delivered` in the database, every signature valid. The load average
 * is printed at start and end (the machine may be shared). Exit 1 on any miss, an unreachable Redis included.
 *
 * Environment: BENCH_N, BENCH_DURATION, BENCH_TIMEOUT_S (per backend, default 300), DATABASE_URL (a server on
 * which each run creates and drops a database of its own; default: an embedded Postgres in a temporary directory
 * per run), REDIS_URL (default redis://127.0.0.1:6379; when it does not answer the redis run is a miss), BENCH_PROFILE=1 (the worker runs with --cpu-prof; profiles
 * land in $TMPDIR/fuli-bench-profiles/webhooks-worker-<backend>.cpuprofile; read them with
 * `node dist/scripts/cpuprofile.js <file>`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { Client } from 'pg';
import { Webhook } from 'standardwebhooks';
import { newId } from '../src/common/ids';
import { MAX_CONNECTIONS_PER_ORIGIN } from '../src/webhooks/webhook-sender';
import { newWebhookSecret, signatureHeader } from '../src/webhooks/webhook-signing';
import {
  api,
  fullEnv,
  loadSettings,
  positiveInt,
  runBenchmark,
  scratchDatabase,
  startServer,
  tenantToken,
  type Operator,
} from './support/harness';
import { nextMessage, serveWorker, workerCpuMicros, type WorkerToChild } from './support/worker-child';

const N = positiveInt('BENCH_N', 10_000);
const TIMEOUT_MS = positiveInt('BENCH_TIMEOUT_S', 300) * 1000;
const SETTINGS = loadSettings(32);
const TARGET_RATIO = 0.25;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PROFILE = process.env.BENCH_PROFILE === '1';

/** What an order.paid event carries: the payload every benchmark event has. */
const EVENT_DATA = {
  order_id: 'ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB',
  po_number: 'PO-2026-11-0001',
  status: 'paid',
  face_total: 10_000_000,
  payable: 9_800_000,
  currency: 'CNY',
  payment_method: 'bank_transfer',
};

// ---------------------------------------------------------------- child: the receiver

type ReceiverToParent =
  | { type: 'ready'; port: number }
  | { type: 'stats'; requests: number; unique: number; invalid: number; lagsMs: number[] };
type ReceiverToChild = { type: 'stats' } | { type: 'reset'; secret: string } | { type: 'stop' };

function serveReceiver(): void {
  let webhook = new Webhook(newWebhookSecret());
  let seen = new Set<string>();
  let requests = 0;
  let invalid = 0;
  let lagsMs: number[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests++;
      let event: { id: string; created_at: string };
      try {
        event = webhook.verify(Buffer.concat(chunks), request.headers as Record<string, string>) as typeof event;
      } catch {
        invalid++;
        response.writeHead(400).end();
        return;
      }
      if (!seen.has(event.id)) {
        seen.add(event.id);
        lagsMs.push(Date.now() - Date.parse(event.created_at));
      }
      response.writeHead(204).end();
    });
  });
  const send = (message: ReceiverToParent) => process.send?.(message);
  process.on('message', (message: ReceiverToChild) => {
    if (message.type === 'stats') send({ type: 'stats', requests, unique: seen.size, invalid, lagsMs });
    else if (message.type === 'reset') {
      // A new run: verify with its endpoint's secret, forget what was seen.
      webhook = new Webhook(message.secret);
      seen = new Set();
      requests = 0;
      invalid = 0;
      lagsMs = [];
    } else server.close(() => process.exit(0));
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => send({ type: 'ready', port: (server.address() as AddressInfo).port }));
}

// ---------------------------------------------------------------- child: the worker

// ---------------------------------------------------------------- parent

interface Receiver {
  url: string;
  stats(): Promise<Extract<ReceiverToParent, { type: 'stats' }>>;
  /** Starts over: counts cleared, deliveries verified with `secret`. */
  reset(secret: string): void;
  stop(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const child = fork(__filename, ['--receiver'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await nextMessage<ReceiverToParent, 'ready'>(child, 'ready');
  return {
    url: `http://127.0.0.1:${port}/fuli/webhooks`,
    async stats() {
      const reply = nextMessage<ReceiverToParent, 'stats'>(child, 'stats');
      child.send({ type: 'stats' } satisfies ReceiverToChild);
      return reply;
    },
    reset: (secret: string) => child.send({ type: 'reset', secret } satisfies ReceiverToChild),
    async stop() {
      const exited = new Promise((done) => child.once('exit', done));
      child.send({ type: 'stop' } satisfies ReceiverToChild);
      await exited;
    },
  };
}

/** autocannon POSTing one validly signed delivery (fresh within the 5-minute tolerance for the whole run). */
async function rawCapacity(
  receiver: Receiver,
  secret: string,
  connections: number,
): Promise<{ rps: number; p99: number; connections: number }> {
  const id = newId('event');
  const body = JSON.stringify({
    object: 'event',
    id,
    type: 'order.paid',
    schema_version: 1,
    enterprise_id: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB',
    created_at: new Date().toISOString(),
    data: EVENT_DATA,
  });
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(id, timestamp, body, [secret]),
  };
  const load = { url: receiver.url, method: 'POST' as const, headers, body, connections };
  await autocannon({ ...load, duration: SETTINGS.warmupS });
  const result = await autocannon({ ...load, duration: SETTINGS.durationS });
  if (result.errors > 0 || result.non2xx > 0)
    throw new Error(`raw capacity run: ${result.errors} errors, ${result.non2xx} non-2xx`);
  return { rps: result.requests.average, p99: result.latency.p99, connections };
}

interface Delivered {
  backend: string;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  received: number;
  unique: number;
  invalid: number;
  deliveredRows: number;
  /** Worker process CPU (user + system) per event delivered, µs. */
  workerCpuPerDelivery: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function deliverThrough(backend: 'postgres' | 'redis', receiver: Receiver): Promise<Delivered> {
  const operator: Operator = { clientId: 'cli_benchoperator', clientSecret: newWebhookSecret() };
  const dataDir = mkdtempSync(join(tmpdir(), 'fuli-bench-webhooks-'));
  const scratch = await scratchDatabase(`webhooks_${backend}`);
  const env = {
    ...fullEnv(dataDir, operator),
    ...(scratch ? { DATABASE_URL: scratch.url } : {}),
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  };
  const server = await startServer('full', env);
  let worker: ChildProcess | undefined;
  try {
    const tenant = await tenantToken(server.url, operator, { name: 'bench ERP', scopes: ['webhooks:manage'] });
    const endpoint = await api(server.url, tenant.token).post<{ id: string; secret: string }>('/v1/webhook-endpoints', {
      url: receiver.url,
      event_types: ['*'],
    });
    receiver.reset(endpoint.secret);
    const databaseUrl = server.databaseUrl ?? '';
    const profileDir = join(tmpdir(), 'fuli-bench-profiles');
    worker = fork(__filename, ['--worker'], {
      execArgv: PROFILE
        ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=webhooks-worker-${backend}.cpuprofile`]
        : [],
      env: {
        ...env,
        DATABASE_URL: databaseUrl,
        QUEUE_BACKEND: backend,
        ...(backend === 'redis' ? { REDIS_URL } : {}),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await nextMessage(worker, 'ready');
    const workerCpu = () => workerCpuMicros(worker!);
    const cpuBefore = await workerCpu();

    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    const ids = Array.from({ length: N }, () => newId('event'));
    const started = Date.now();
    await db.query(
      `INSERT INTO events (id, enterprise_id, type, schema_version, data)
       SELECT id, $2, 'order.paid', 1, $3::jsonb FROM unnest($1::text[]) AS id`,
      [ids, tenant.enterpriseId, JSON.stringify(EVENT_DATA)],
    );
    const deadline = started + TIMEOUT_MS;
    let stats = await receiver.stats();
    while (stats.unique < N && Date.now() < deadline) {
      await sleep(100);
      stats = await receiver.stats();
    }
    const seconds = (Date.now() - started) / 1000;
    const workerCpuUsed = (await workerCpu()) - cpuBefore;
    // Let stragglers (duplicates) arrive before counting rows.
    await sleep(1_000);
    stats = await receiver.stats();
    const [{ delivered }] = (
      await db.query<{ delivered: number }>(
        "SELECT count(*)::int AS delivered FROM webhook_deliveries WHERE status = 'delivered'",
      )
    ).rows;
    await db.end();
    const lags = [...stats.lagsMs].sort((a, b) => a - b);
    return {
      backend,
      seconds,
      perSecond: stats.unique / seconds,
      p50: percentile(lags, 50),
      p99: percentile(lags, 99),
      received: stats.requests,
      unique: stats.unique,
      invalid: stats.invalid,
      deliveredRows: delivered,
      workerCpuPerDelivery: workerCpuUsed / Math.max(1, stats.unique),
    };
  } finally {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((done) => worker!.once('exit', done));
      worker.send({ type: 'stop' } satisfies WorkerToChild);
      const kill = setTimeout(() => worker!.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(kill);
    }
    await server.stop();
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function redisAnswers(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000 });
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

async function main(): Promise<number> {
  console.log(
    `bench:webhooks: ${N.toLocaleString('en')} events; raw runs with ${SETTINGS.connections} and ${MAX_CONNECTIONS_PER_ORIGIN} connections`,
  );
  console.log(`machine: ${cpus().length} cores, load average ${load()} at start`);
  const probeSecret = newWebhookSecret();
  const receiver = await startReceiver();
  receiver.reset(probeSecret);
  const runs: Delivered[] = [];
  let raw: { rps: number; p99: number; connections: number };
  const backends: Array<'postgres' | 'redis'> = ['postgres', 'redis'];
  const redisUp = await redisAnswers();
  try {
    const raws = [];
    for (const connections of [SETTINGS.connections, MAX_CONNECTIONS_PER_ORIGIN])
      raws.push(await rawCapacity(receiver, probeSecret, connections));
    for (const run of raws)
      console.log(`receiver raw: ${run.rps.toFixed(0)} req/s at ${run.connections} connections, p99 ${run.p99} ms`);
    raw = raws.reduce((best, run) => (run.rps > best.rps ? run : best));
    for (const backend of backends) {
      if (backend === 'redis' && !redisUp) continue;
      runs.push(await deliverThrough(backend, receiver));
    }
  } finally {
    await receiver.stop();
  }
  console.log(`load average ${load()} at end\n`);
  const columns = ['backend', 'delivered', 'seconds', 'deliveries/s', 'ratio', 'lag p50', 'lag p99', 'lost', 'dupes'];
  const widths = [10, 11, 9, 14, 8, 10, 10, 6, 6];
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' ');
  console.log(line(columns));
  console.log(line(['receiver', '', '', raw.rps.toFixed(0), '1.000', '', `${raw.p99} ms`, '', '']));
  for (const run of runs) {
    console.log(
      line([
        run.backend,
        `${run.unique}/${N}`,
        run.seconds.toFixed(2),
        run.perSecond.toFixed(0),
        (run.perSecond / raw.rps).toFixed(3),
        `${run.p50} ms`,
        `${run.p99} ms`,
        String(N - run.unique),
        String(run.received - run.unique - run.invalid),
      ]),
    );
  }
  console.log('');
  let failed = false;
  const verdict = (ok: boolean, text: string) => {
    failed ||= !ok;
    console.log(`${ok ? 'PASS' : 'FAIL'}  ${text}`);
  };
  for (const backend of backends) {
    const run = runs.find((candidate) => candidate.backend === backend);
    if (!run) {
      verdict(false, `${backend}: not measured (nothing answers at ${REDIS_URL})`);
      continue;
    }
    const ratio = run.perSecond / raw.rps;
    verdict(
      ratio >= TARGET_RATIO,
      `${backend}: ${run.perSecond.toFixed(0)} deliveries/s = ${ratio.toFixed(3)} × the receiver's ${raw.rps.toFixed(0)}/s (target ≥ ${TARGET_RATIO})`,
    );
    verdict(
      run.unique === N && run.deliveredRows === N,
      `${backend}: 0 lost (${run.unique}/${N} received, ${run.deliveredRows} rows delivered)`,
    );
    verdict(run.received - run.unique - run.invalid === 0, `${backend}: 0 duplicates (${run.received} requests)`);
    verdict(run.invalid === 0, `${backend}: every signature verified with standardwebhooks (${run.invalid} bad)`);
    console.log(`      ${backend}: worker CPU ${run.workerCpuPerDelivery.toFixed(0)} µs/delivery`);
  }
  return failed ? 1 : 0;
}

if (process.argv[2] === '--receiver') serveReceiver();
else if (process.argv[2] === '--worker') {
  serveWorker().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else runBenchmark('bench:webhooks', main);
