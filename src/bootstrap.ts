import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger as Pino } from 'pino';
import { AppModule } from './app.module';
import { sendProblem } from './common/errors/problem.filter';
import { registerBodyParsers } from './common/http/body-parsers';
import { IpRateLimitGuard } from './auth/rate-limit.guard';
import { apiSecurityHeaders, claimSecurityHeaders, docsSecurityHeaders } from './common/http/security-headers';
import { newId } from './common/ids';
import { createLogger, PinoNestLogger } from './common/logging/logger';
import { runInRequest } from './common/logging/request-log-context';
import { AppConfig, defaultNodeEnv, describeConfig, loadConfig } from './config/app-config';
import { resolveDatabase, type DatabaseHandle } from './database/database-url';
import { runMigrations } from './database/migrations';
import { setupDocs } from './docs/openapi';
import { MetricsService } from './metrics/metrics.service';
import { prepareQueueBackend, type QueueConnection } from './queue/queue-backend';
import { QUEUE_DASHBOARD_PATH, QueueDashboard } from './queue-dashboard/queue-dashboard';

/** Everything a process needs before Nest starts: config, database (embedded or not), schema, queue backend. */
export interface Runtime {
  config: AppConfig;
  logger: Pino;
  database: DatabaseHandle;
  queue: QueueConnection;
}

export async function prepareRuntime(
  config: AppConfig = loadConfig(process.env, { defaultNodeEnv: defaultNodeEnv() }),
): Promise<Runtime> {
  const logger = createLogger(config.LOG_LEVEL);
  logger.info({ config: describeConfig(config) }, 'configuration loaded');
  const database = await resolveDatabase(config, (line) => logger.info(line));
  // The schema owner migrates when one is configured; the app's pools then use DATABASE_URL's role, which owns nothing.
  const migrationUrl = config.MIGRATION_DATABASE_URL;
  const applied = await runMigrations(migrationUrl ?? database.url);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  const queue = await prepareQueueBackend(config, database.url, { migrationUrl, redisPrefix: config.REDIS_PREFIX });
  logger.info({ backend: queue.backend }, 'queue backend ready');
  return { config, logger, database, queue };
}

export async function closeRuntime(runtime: Runtime): Promise<void> {
  await runtime.queue.close();
  await runtime.database.embedded?.stop();
}

const routerLogger = new Logger('Router');

/** HTTP servers that are shutting down: their remaining responses close their connections. */
const shuttingDown = new WeakSet<object>();

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a caller's X-Request-Id when it is sane, so logs join up across systems. */
function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : newId('request');
}

/** The HTTP application; with `worker`, the queue processors run in the same process (`npm start`). */
export interface HttpAppOptions {
  worker: boolean;
  /** Called before the app is ready, when Fastify still takes hooks (the e2e tests record every response). */
  beforeReady?: (app: NestFastifyApplication) => void;
}

export async function createHttpApp(runtime: Runtime, options: HttpAppOptions): Promise<NestFastifyApplication> {
  const { config, logger } = runtime;
  const adapter = new FastifyAdapter({
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.trustProxy,
    genReqId: requestIdOf,
    requestIdHeader: false,
    logger: false,
    // The router refuses some URLs (bad percent-encoding, an over-long path parameter) before any route or Nest
    // filter runs: answer those as problems too.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) =>
      sendProblem(request, reply, error, routerLogger),
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot({ config, databaseUrl: runtime.database.url, queue: runtime.queue, worker: options.worker }),
    adapter,
    { logger: new PinoNestLogger(logger), bufferLogs: false },
  );
  registerBodyParsers(app, config.BODY_LIMIT_BYTES);
  const fastify = app.getHttpAdapter().getInstance();
  const apiHeaders = apiSecurityHeaders(config.isProduction);
  const docsHeaders = docsSecurityHeaders(config.isProduction);
  const claimHeaders = claimSecurityHeaders(config.isProduction);
  const metrics = app.get(MetricsService);
  const rateLimit = app.get(IpRateLimitGuard);
  // The request's id for every log line written while serving it. Entered again before validation: the handler runs
  // from the body stream's events, which carry the connection's async context, not this hook's.
  fastify.addHook('onRequest', (request, _reply, done) => runInRequest(request.id, done));
  fastify.addHook('preValidation', (request, _reply, done) => runInRequest(request.id, done));
  fastify.addHook('onRequest', (request, reply, done) => {
    const url = request.url;
    // The queue dashboard is a page with inline script and styles, as /docs is.
    const page = url.startsWith('/docs') || url.startsWith(QUEUE_DASHBOARD_PATH);
    void reply.headers(page ? docsHeaders : url === '/claim' || url.startsWith('/claim/') ? claimHeaders : apiHeaders);
    void reply.header('x-request-id', request.id);
    done();
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    // Callback style: an API request passes without a promise of its own.
    if (!request.url.startsWith('/docs')) return done();
    // A refusal is answered here, as a problem: these routes are Fastify's, outside Nest's filter.
    rateLimit.limitPlainRoute(request, reply).then(
      () => done(),
      (error: unknown) => sendProblem(request, reply, error, routerLogger),
    );
  });
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    // A kept-alive connection would otherwise hold the shutdown until its keep-alive timeout.
    if (shuttingDown.has(fastify)) void reply.header('connection', 'close');
    done(null, payload);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeHttp(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    logger.info(
      {
        reqId: request.id,
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
    done();
  });
  setupDocs(app, config.publicUrl);
  await app.get(QueueDashboard).mount(fastify, (request, reply) => rateLimit.limitPlainRoute(request, reply));
  options.beforeReady?.(app);
  await app.init();
  await fastify.ready();
  return app;
}

/**
 * How long kept-alive connections get, once the server stops listening, to send their next request (answered 503
 * with `Connection: close`) before those still idle are closed.
 */
const IDLE_CONNECTION_GRACE_MS = 1_000;

/**
 * Graceful stop of an HTTP app (SIGTERM): first the HTTP server stops listening and waits for the requests in flight
 * (each answered with `Connection: close`); a request arriving on a kept-alive connection gets Fastify's 503 with
 * `Connection: close`, and only connections still idle after a short grace are closed. Closing idle connections at
 * once (what Node's server.close() does) resets the ones whose client is already sending its next request: under
 * load, most of them. Then Nest's close drains the jobs and releases the database pool and Redis clients; then the
 * runtime (queue connection, embedded Postgres). Nest's own order would run the destroy hooks (pool and Redis
 * closed) before it closes the HTTP server, failing requests still being served.
 */
export async function shutdownHttpApp(app: NestFastifyApplication, runtime: Runtime): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  shuttingDown.add(fastify);
  const server = fastify.server;
  const closeIdleConnections = server.closeIdleConnections.bind(server);
  server.closeIdleConnections = () => undefined;
  const closed = fastify.close();
  const grace = setTimeout(closeIdleConnections, IDLE_CONNECTION_GRACE_MS);
  try {
    await closed;
  } finally {
    clearTimeout(grace);
  }
  await app.close();
  await closeRuntime(runtime);
}

/** A worker process: the same modules, no HTTP server. */
export async function createWorkerApp(runtime: Runtime) {
  const { config } = runtime;
  const app = await NestFactory.createApplicationContext(
    AppModule.forRoot({ config, databaseUrl: runtime.database.url, queue: runtime.queue, worker: true }),
    { logger: new PinoNestLogger(runtime.logger) },
  );
  await app.init();
  return app;
}
