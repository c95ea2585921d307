import type { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations';
import { entities } from './entities';
import { SnakeNamingStrategy } from './snake-naming.strategy';

/** One place that says how the app talks to Postgres: listed entities, migrations, never synchronize. */
export function dataSourceOptions(url: string, poolSize = 20): DataSourceOptions {
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
