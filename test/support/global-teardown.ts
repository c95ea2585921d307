import pg from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { LEDGER_INVARIANT_CHECKS } from '../../src/ledger/ledger-invariants';

/** After every e2e file: the ledger all of them wrote must still verify (DESIGN.md §6), then the database goes. */
async function verifyLedger(url: string): Promise<void> {
  const dataSource = await new DataSource(dataSourceOptions(url, 2)).initialize();
  try {
    for (const check of LEDGER_INVARIANT_CHECKS) {
      const violation = await check.firstViolation(dataSource.manager);
      if (violation) throw new Error(`the ledger does not verify after the e2e suite: ${JSON.stringify(violation)}`);
    }
    console.log('\nledger verify after the e2e suite: ok');
  } finally {
    await dataSource.destroy();
  }
}

export default async function globalTeardown(): Promise<void> {
  const serverUrl = process.env.TEST_SERVER_URL;
  const name = process.env.TEST_DATABASE_NAME;
  try {
    if (process.env.TEST_DATABASE_URL) await verifyLedger(process.env.TEST_DATABASE_URL);
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
