import { DataSource } from 'typeorm';
import { RequestContext } from '../../src/common/context/request-context';
import { appDataSourceOptions } from '../../src/entities';
import { TransactionalConnection } from '../../src/database/transactional-connection';

/**
 * The "medium" tier: a repository against the real, migrated test database, with no Nest app. Each test's work
 * runs in a transaction bound to a fresh context and rolled back afterwards, so tests leave nothing behind and
 * may run in parallel with the e2e files that share the database.
 */
export interface MediumDatabase {
  dataSource: DataSource;
  connection: TransactionalConnection;
  /** Runs `work` in a transaction that is always rolled back; `ctx` is bound to it, as a request's would be. */
  rolledBack<T>(work: (ctx: RequestContext) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openMediumDatabase(): Promise<MediumDatabase> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the medium tests through jest (global setup)');
  const dataSource = new DataSource(appDataSourceOptions(url, 4));
  await dataSource.initialize();
  const connection = new TransactionalConnection(dataSource);
  return {
    dataSource,
    connection,
    async rolledBack(work) {
      const runner = dataSource.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      try {
        const ctx = RequestContext.system();
        ctx.bindTransaction({ manager: runner.manager, afterCommit: [] });
        return await work(ctx);
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
    },
    close: () => dataSource.destroy(),
  };
}
