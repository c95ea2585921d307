import { DataSource } from 'typeorm';
import { appDataSourceOptions } from '../../src/entities';
import { LEDGER_INVARIANT_CHECKS } from '../../src/ledger/ledger.repository';

/**
 * The checks behind `GET /v1/admin/ledger/verify` (README.md, "The ledger") against the database at `url`: throws naming the
 * first violation. Run on every database the e2e tests wrote to, after they are done with it.
 */
export async function verifyLedger(url: string): Promise<void> {
  const dataSource = await new DataSource(appDataSourceOptions(url, 2)).initialize();
  try {
    for (const check of LEDGER_INVARIANT_CHECKS) {
      const violation = await check.firstViolation((sql, parameters) => dataSource.query(sql, parameters));
      if (violation)
        throw new Error(`the ledger of ${new URL(url).pathname} does not verify: ${JSON.stringify(violation)}`);
    }
  } finally {
    await dataSource.destroy();
  }
}
