import { join } from 'node:path';
import type { AppConfig } from '../config/app-config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres';

export interface DatabaseHandle {
  url: string;
  embedded?: EmbeddedDatabase;
}

/** DATABASE_URL when given; otherwise the embedded PostgreSQL under DATA_DIR/postgres. */
export async function resolveDatabase(config: AppConfig, log: (line: string) => void): Promise<DatabaseHandle> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL };
  if (config.isProduction) throw new Error('DATABASE_URL is required in production');
  const embedded = await startEmbeddedPostgres({
    dir: join(config.dataDir, 'postgres'),
    port: config.EMBEDDED_POSTGRES_PORT,
    database: 'fuli',
    log,
  });
  log(`embedded PostgreSQL running at ${embedded.url.replace(/:[^:@/]*@/, ':********@')}`);
  return { url: embedded.url, embedded };
}
