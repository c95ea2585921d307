import pg from 'pg';
import { verifyLedger } from './ledger-check';

export default async function globalTeardown(): Promise<void> {
  // Named by the medium and e2e projects: the first call tears down what the one setup made.
  if (process.env.FULI_TEST_SETUP_DONE !== '1') return;
  process.env.FULI_TEST_SETUP_DONE = 'torn-down';
  const serverUrl = process.env.TEST_SERVER_URL;
  const name = process.env.TEST_DATABASE_NAME;
  try {
    // After every e2e file: the ledger all of them wrote must still verify (docs/architecture.md), then the database goes.
    if (process.env.TEST_DATABASE_URL) {
      await verifyLedger(process.env.TEST_DATABASE_URL);
      console.log('\nledger verify after the e2e suite: ok');
    }
  } finally {
    if (serverUrl && name && process.env.KEEP_TEST_DATABASE !== '1') {
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
    await (globalThis as { __embeddedPostgres?: { stop(): Promise<void> } }).__embeddedPostgres?.stop();
  }
}
