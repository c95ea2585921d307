import pg from 'pg';
import { verifyLedger } from './ledger-check';

export interface ScratchDatabase {
  /** A postgres:// URL of the new, empty database (the app migrates it at boot). */
  url: string;
  /** Checks the ledger the test left (as global teardown does for the main test database), then drops it. */
  drop(): Promise<void>;
}

/**
 * A database of its own on the test server, for a test file whose jobs no other file's in-process worker may
 * run (every test app shares the main test database and its BullMQ tables, so any worker takes any job, with
 * its own configuration). KEEP_TEST_DATABASE=1 keeps it for inspection.
 */
export async function createScratchDatabase(suffix: string): Promise<ScratchDatabase> {
  const serverUrl = process.env.TEST_SERVER_URL;
  if (!serverUrl) throw new Error('TEST_SERVER_URL is not set: run the e2e tests through jest (global setup)');
  const name = `${process.env.TEST_DATABASE_NAME ?? 'fuli_test'}_${suffix}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await verifyLedger(url.toString());
      if (process.env.KEEP_TEST_DATABASE === '1') return;
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
