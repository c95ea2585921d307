import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runMigrations } from '../../src/database/migrations';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { IN_CI, postgresReachable, redisReachable, SERVER_POSTGRES_URL, TEST_REDIS_URL } from './services';

/**
 * One fresh database per test run, migrated once: on the Postgres server when one
 * answers, else (never in CI) on an embedded Postgres in a temporary directory.
 * Its URL reaches the test workers through the environment.
 */
export default async function globalSetup(): Promise<void> {
  // The medium and e2e projects both name this setup; Jest runs it once per project, in one process.
  if (process.env.FULI_TEST_SETUP_DONE === '1') return;
  process.env.FULI_TEST_SETUP_DONE = '1';
  let serverUrl = SERVER_POSTGRES_URL;
  if (!(await postgresReachable(serverUrl))) {
    if (IN_CI) throw new Error(`CI=true but PostgreSQL is not reachable at ${serverUrl}`);
    const embedded = await startEmbeddedPostgres({
      dir: mkdtempSync(join(tmpdir(), 'fuli-test-pg-')),
      port: 0,
      database: 'postgres',
    });
    (globalThis as { __embeddedPostgres?: { stop(): Promise<void> } }).__embeddedPostgres = embedded;
    serverUrl = embedded.url;
  }
  const name = `fuli_test_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  process.env.TEST_SERVER_URL = serverUrl;
  process.env.TEST_DATABASE_URL = url.toString();
  process.env.TEST_DATABASE_NAME = name;
  await runMigrations(url.toString());

  const redisUp = await redisReachable(TEST_REDIS_URL);
  if (!redisUp && IN_CI) throw new Error(`CI=true but Redis is not reachable at ${TEST_REDIS_URL}`);
  if (!redisUp)
    console.warn(`\nRedis is not reachable at ${TEST_REDIS_URL}: the Redis queue-backend suite is skipped.`);
  process.env.TEST_REDIS_AVAILABLE = redisUp ? '1' : '0';
}
