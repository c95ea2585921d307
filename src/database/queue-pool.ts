import pg from 'pg';

/**
 * The pg pool of BullMQ's Postgres backend (src/queue/queue-backend.ts). Its tables are the queue library's, in a
 * schema of their own; the application sends them only the readiness ping and lets BullMQ migrate them.
 */
export type QueuePool = pg.Pool;

/** pg's default is to wait forever for a free or new connection; readiness and producers must fail instead. */
const PG_CONNECT_TIMEOUT_MS = 5_000;

export interface QueuePoolOptions {
  /** BullMQ's schema: the pool's search_path (its SQL uses unqualified names). */
  schema: string;
  max: number;
  /** Queues (each Worker holds a LISTEN client and adds error listeners to the pool). */
  listeners: number;
  /** Migrate through this URL (the schema owner's) instead of the pool's. */
  migrationUrl?: string;
  /** BullMQ's migration, run once on a client of the pool (or of migrationUrl). */
  migrate(client: pg.ClientBase): Promise<unknown>;
}

export interface OpenQueuePool {
  pool: QueuePool;
  /** Resolves when BullMQ's schema answers a trivial query. */
  ping(): Promise<void>;
  /** Ends the pool; idempotent. */
  close(): Promise<void>;
}

export async function openQueuePool(databaseUrl: string, options: QueuePoolOptions): Promise<OpenQueuePool> {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    options: `-c search_path="${options.schema}"`,
    max: options.max,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    application_name: 'fuli-queue',
  });
  // An idle client dropped by the server emits 'error' on the pool; without a listener that kills the process.
  pool.on('error', () => undefined);
  // BullMQ adds an 'error' listener to the shared pool per Queue and per Worker: more than Node's default warning
  // threshold of 10 once there are five queues. Each is released when its Queue or Worker closes.
  pool.setMaxListeners(4 * options.listeners + 10);
  try {
    if (options.migrationUrl) {
      const owner = new pg.Client({ connectionString: options.migrationUrl, application_name: 'fuli-migrate' });
      await owner.connect();
      try {
        await options.migrate(owner);
      } finally {
        await owner.end();
      }
    } else {
      const client = await pool.connect();
      try {
        await options.migrate(client);
      } finally {
        client.release();
      }
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    pool,
    async ping() {
      if (closing) throw new Error('the queue connection is closed');
      await pool.query('SELECT version FROM migration LIMIT 1');
    },
    close() {
      closing ??= pool.end();
      return closing;
    },
  };
}
