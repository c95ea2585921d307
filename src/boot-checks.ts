import { createServer } from 'node:net';
import Redis from 'ioredis';
import type { AppConfig } from './config/app-config';
import { BOOT_CONNECT_TIMEOUT_MS, BootError, maskedUrl } from './config/boot-error';
import { assertPostgresReachable } from './database/reachable';

/** Fails with `PORT 3000 is in use` when another process holds the port (0 picks a free one: nothing to check). */
export async function assertPortFree(variable: string, host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new BootError(
          error.code === 'EADDRINUSE'
            ? `${variable} ${port} is in use (on ${host}): stop the process holding it or set ${variable} to another port`
            : error.code === 'EACCES'
              ? `${variable} ${port} needs privileges this process lacks: set ${variable} to a port above 1023`
              : `${variable} ${port} cannot be opened on ${host}: ${error.message}`,
        ),
      ),
    );
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
  });
}

export async function assertRedisReachable(variable: string, url: string): Promise<void> {
  // Fails fast, unlike the queues' and rate limits' own clients, which retry forever by design.
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: BOOT_CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => (lastError = error));
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const cause = lastError ?? (error as Error);
    const refused = (cause as NodeJS.ErrnoException).code === 'ECONNREFUSED';
    throw new BootError(
      `${variable} ${maskedUrl(url)} is unreachable: ${cause.message}${refused ? ' — is Redis running?' : ''}`,
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * What a process checks before it starts anything, so that a misconfiguration ends the boot at once with one line
 * naming the variable and what to do, instead of a stack trace after seconds of starting everything (or, for an
 * unreachable Redis, never): the listening ports of an API process first, then the services every process needs.
 */
export async function checkBeforeBoot(config: AppConfig, options: { listens: boolean }): Promise<void> {
  if (options.listens) {
    await assertPortFree('PORT', config.HOST, config.PORT);
    await assertPortFree('METRICS_PORT', config.METRICS_HOST, config.METRICS_PORT);
  }
  const checks: Promise<void>[] = [];
  if (config.DATABASE_URL) checks.push(assertPostgresReachable('DATABASE_URL', config.DATABASE_URL));
  if (config.MIGRATION_DATABASE_URL) {
    checks.push(assertPostgresReachable('MIGRATION_DATABASE_URL', config.MIGRATION_DATABASE_URL));
  }
  if (config.REDIS_URL) checks.push(assertRedisReachable('REDIS_URL', config.REDIS_URL));
  const s3 = config.s3;
  if (s3) {
    // The AWS SDK is loaded only where S3 is configured: a boot without it stays as fast as before.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { assertS3BucketReachable } = require('./storage/s3-client') as typeof import('./storage/s3-client');
    checks.push(assertS3BucketReachable(s3, BOOT_CONNECT_TIMEOUT_MS));
  }
  // Every check runs to its end, so that all broken settings are named at once.
  const failures = (await Promise.allSettled(checks)).flatMap((result) =>
    result.status === 'rejected' ? [result.reason as Error] : [],
  );
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new BootError(failures.map((failure) => failure.message).join('; '));
}

/**
 * The one line a failed boot prints, and the exit. Expected failures (configuration, an unreachable service, a busy
 * port) print their message alone; anything else keeps its stack, since that is a bug to report.
 */
export function exitOnBootFailure(error: unknown, expected: (error: unknown) => boolean): never {
  const text =
    error instanceof Error ? (expected(error) ? error.message : (error.stack ?? error.message)) : String(error);
  process.stderr.write(`${text}\n`);
  process.exit(1);
}
