import {
  createPostgresBackend,
  runMigrations,
  setDefaultBackendFactory,
  DEFAULT_SCHEMA,
  type RedisOptions,
} from 'bullmq';
import Redis from 'ioredis';
import pg from 'pg';
import type { AppConfig } from '../config/app-config';
import { QueueName } from './queue.constants';

interface QueueConnectionBase {
  /** Resolves when the backend answers a trivial query; rejects otherwise (readiness). */
  ping(): Promise<void>;
  /** Releases what prepareQueueBackend opened. Call after every Queue and Worker is closed. Idempotent. */
  close(): Promise<void>;
}

export interface PostgresQueueConnection extends QueueConnectionBase {
  backend: 'postgres';
  /** One pool shared by every Queue and Worker of the process (each Worker also holds one LISTEN client from it). */
  connection: pg.Pool;
}

export interface RedisQueueConnection extends QueueConnectionBase {
  backend: 'redis';
  /** Options, not a client: each Queue opens its own connection and each Worker two (one blocking). */
  connection: RedisOptions;
  /** Namespace of every BullMQ key; BullMQ's default `bull` when unset. */
  prefix?: string;
}

export type QueueConnection = PostgresQueueConnection | RedisQueueConnection;

export interface QueueBackendOptions {
  /** Redis only: key prefix, so that several deployments or test runs can share one Redis. */
  redisPrefix?: string;
  /** Postgres only: queries in flight at once across all queues, on top of one LISTEN client per queue. */
  queryConnections?: number;
  /** Postgres only: migrate BullMQ's schema through this URL (the schema owner's) instead of the queue pool's. */
  migrationUrl?: string;
}

/** pg's default is to wait forever for a free or new connection; readiness and producers must fail instead. */
const PG_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_QUERY_CONNECTIONS = 8;

/**
 * Chooses BullMQ's backend for the whole process and opens what it needs. Call it
 * once, before the Nest application is created: BullMQ reads the process-wide
 * backend factory when each Queue and Worker is constructed.
 *
 * Postgres: one shared pg.Pool with `search_path` pinned to the `bullmq` schema
 * (BullMQ's SQL uses unqualified names and, for a caller-owned pool, only checks
 * that schema), migrated here once because a caller-owned pool is never migrated
 * by BullMQ itself.
 */
export async function prepareQueueBackend(
  config: Pick<AppConfig, 'QUEUE_BACKEND' | 'REDIS_URL'>,
  databaseUrl: string,
  options: QueueBackendOptions = {},
): Promise<QueueConnection> {
  if (config.QUEUE_BACKEND === 'redis') {
    if (!config.REDIS_URL) throw new Error('QUEUE_BACKEND=redis needs REDIS_URL');
    setDefaultBackendFactory();
    return redisConnection(config.REDIS_URL, options.redisPrefix);
  }
  const listeners = Object.values(QueueName).length;
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    options: `-c search_path="${DEFAULT_SCHEMA}"`,
    max: (options.queryConnections ?? DEFAULT_QUERY_CONNECTIONS) + listeners,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    application_name: 'fuli-queue',
  });
  // An idle client dropped by the server emits 'error' on the pool; without a listener that kills the process.
  pool.on('error', () => undefined);
  // BullMQ adds an 'error' listener to the shared pool per Queue and per Worker: more than Node's default warning
  // threshold of 10 once there are five queues. Each is released when its Queue or Worker closes.
  pool.setMaxListeners(4 * listeners + 10);
  try {
    if (options.migrationUrl) {
      const owner = new pg.Client({ connectionString: options.migrationUrl, application_name: 'fuli-migrate' });
      await owner.connect();
      try {
        await runMigrations(owner, DEFAULT_SCHEMA);
      } finally {
        await owner.end();
      }
    } else {
      const client = await pool.connect();
      try {
        await runMigrations(client, DEFAULT_SCHEMA);
      } finally {
        client.release();
      }
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  setDefaultBackendFactory(createPostgresBackend);
  let closing: Promise<void> | undefined;
  return {
    backend: 'postgres',
    connection: pool,
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

function redisConnection(url: string, prefix: string | undefined): RedisQueueConnection {
  // Workers block on Redis; BullMQ requires commands to retry forever rather than fail mid-job.
  const connection: RedisOptions = { url, maxRetriesPerRequest: null };
  let pinger: Redis | undefined;
  let closing: Promise<void> | undefined;
  return {
    backend: 'redis',
    connection,
    prefix,
    async ping() {
      if (closing) throw new Error('the queue connection is closed');
      // A separate client that fails fast: the queues' own connections retry forever by design.
      pinger ??= new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 }).on(
        'error',
        () => undefined,
      );
      await pinger.ping();
    },
    close() {
      closing ??= (async () => {
        if (pinger) await pinger.quit().catch(() => pinger?.disconnect());
      })();
      return closing;
    },
  };
}
