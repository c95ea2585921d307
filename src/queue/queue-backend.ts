import {
  createPostgresBackend,
  runMigrations,
  setDefaultBackendFactory,
  DEFAULT_SCHEMA,
  type RedisOptions,
} from 'bullmq';
import Redis from 'ioredis';
import type { AppConfig } from '../config/app-config';
import { openQueuePool, type QueuePool } from '../database/queue-pool';
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
  connection: QueuePool;
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
  const queuePool = await openQueuePool(databaseUrl, {
    schema: DEFAULT_SCHEMA,
    // One LISTEN client per queue on top of the queries in flight.
    max: (options.queryConnections ?? DEFAULT_QUERY_CONNECTIONS) + Object.values(QueueName).length,
    listeners: Object.values(QueueName).length,
    migrationUrl: options.migrationUrl,
    migrate: (client) => runMigrations(client, DEFAULT_SCHEMA),
  });
  setDefaultBackendFactory(createPostgresBackend);
  return {
    backend: 'postgres',
    connection: queuePool.pool,
    ping: () => queuePool.ping(),
    close: () => queuePool.close(),
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
