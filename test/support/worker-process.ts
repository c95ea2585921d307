/**
 * The real worker (src/worker.ts: prepareRuntime + createWorkerApp), or another entry point, in a child process
 * that a test can SIGKILL.
 * No build step: the child registers a require hook that compiles src/**.ts with @swc/core (the compiler jest
 * already uses, same options), so it runs exactly the sources under test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { AppConfig } from '../../src/config/app-config';

/** Runs in the child (node -e): compile .ts on require, as jest.config.js does, then start the entry point. */
const boot = (entry: string) => `
const fs = require('node:fs');
const swc = require('@swc/core');
const options = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};
require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), { ...options, filename });
  module._compile(code, filename);
};
require(${JSON.stringify(resolve(__dirname, '../../src', entry))});
`;

/** The configuration keys a worker must share with the API it serves (same database, keys and queue backend). */
export function workerEnv(config: AppConfig, overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    DATA_DIR: config.DATA_DIR,
    DATABASE_URL: config.DATABASE_URL,
    QUEUE_BACKEND: config.QUEUE_BACKEND,
    CODE_PEPPER: config.CODE_PEPPER,
    DATA_ENCRYPTION_KEYS: config.DATA_ENCRYPTION_KEYS,
    JWT_SIGNING_KEY: config.JWT_SIGNING_KEY,
    ADMIN_CLIENT_ID: config.ADMIN_CLIENT_ID,
    ADMIN_CLIENT_SECRET: config.ADMIN_CLIENT_SECRET,
    CLIENT_SECRET_KEY: config.CLIENT_SECRET_KEY,
    AUDIT_HMAC_KEYS: config.AUDIT_HMAC_KEYS,
    ISSUANCE_CHUNK_SIZE: String(config.ISSUANCE_CHUNK_SIZE),
    SEED_DEMO: 'false',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    ...overrides,
  };
}

export interface WorkerProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL (no shutdown hooks, no job hand-back): a crash as the operating system sees it. */
  kill(): Promise<void>;
  /** SIGTERM (graceful: running jobs finish), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export function startWorkerProcess(env: NodeJS.ProcessEnv): WorkerProcess {
  return startSourceProcess('worker.ts', [], env, 'inherit');
}

/**
 * An entry point of src/ (main.ts, worker.ts) with command-line arguments, as `node dist/src/<entry>.js <args>`
 * runs it; with `stdio: 'pipe'` its output can be read from `child.stdout` / `child.stderr`.
 */
export function startSourceProcess(
  entry: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdio: 'inherit' | 'pipe',
): WorkerProcess {
  return asWorkerProcess(
    // `-e` scripts see their arguments from process.argv[1] on; `--` keeps node from reading them as its own.
    spawn(process.execPath, ['-e', boot(entry), '--', ...args], {
      cwd: resolve(__dirname, '../..'),
      env,
      stdio: ['ignore', stdio, stdio],
    }),
  );
}

/** A worker started some other way (the benchmark forks compiled code), controlled like startWorkerProcess's. */
export function asWorkerProcess(child: ChildProcess): WorkerProcess {
  if (child.pid === undefined) throw new Error('the worker process did not start');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    pid: child.pid,
    child,
    exited,
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 10_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
