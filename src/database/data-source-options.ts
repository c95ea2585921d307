import type { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations';
import { SnakeNamingStrategy } from './snake-naming.strategy';

/**
 * One place that says how the app talks to Postgres: migrations, never synchronize, and the entities the caller
 * passes (the composition root assembles the list, src/entities.ts, so this layer imports no feature).
 */
export function dataSourceOptions(
  url: string,
  poolSize = 20,
  entities: NonNullable<DataSourceOptions['entities']> = [],
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    extra: { max: poolSize, application_name: 'fuli' },
  };
}
