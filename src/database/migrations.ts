import { DataSource, type DataSourceOptions } from 'typeorm';
import { dataSourceOptions } from './data-source-options';

/** Any fixed number works; it only has to be the same in every process of this app. */
const MIGRATION_LOCK = 8_154_202;

/** Runs pending migrations under an advisory lock, so processes booting together migrate once. */
export async function runMigrations(url: string): Promise<string[]> {
  const dataSource = await new DataSource(dataSourceOptions(url, 2)).initialize();
  try {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((migration) => migration.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      await runner.release();
    }
  } finally {
    await dataSource.destroy();
  }
}

/** SQL that would bring the database from its migrated state to the entities' state. */
export async function pendingSchemaChanges(
  url: string,
  entities: NonNullable<DataSourceOptions['entities']>,
): Promise<{ up: string[]; down: string[] }> {
  const dataSource = await new DataSource(dataSourceOptions(url, 2, entities)).initialize();
  try {
    const sql = await dataSource.driver.createSchemaBuilder().log();
    return {
      up: sql.upQueries.map((query) => query.query),
      down: sql.downQueries.map((query) => query.query).reverse(),
    };
  } finally {
    await dataSource.destroy();
  }
}
