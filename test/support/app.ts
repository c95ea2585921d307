import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { closeRuntime, createHttpApp, prepareRuntime, shutdownHttpApp, type Runtime } from '../../src/bootstrap';
import { loadConfig } from '../../src/config/app-config';
import { MetricsServer } from '../../src/metrics/metrics-server';
import { recordResponses, type ResponseRecorder } from './contract';

export const TEST_ADMIN_CLIENT_ID = 'cli_testoperator';
export const TEST_ADMIN_CLIENT_SECRET = 'test-operator-secret-0123456789';
/** One client-secret key for every test app: they share a database, and each must verify the others' secrets. */
export const TEST_CLIENT_SECRET_KEY = Buffer.alloc(32, 7).toString('base64');
/**
 * One audit key for every app of a run: the apps of parallel test files share the database and its audit chain,
 * and each one's verify must accept what the others appended (each app generates its own CODE_PEPPER).
 */
export const TEST_AUDIT_HMAC_KEYS = `test:${Buffer.alloc(32, 'fuli-test-audit-key').toString('base64')}`;

export interface TestApp {
  app: NestFastifyApplication;
  runtime: Runtime;
  http: TestAgent;
  url: string;
  /** The metrics listener (GET /metrics), apart from the API port as in production. */
  metrics: TestAgent;
  dataSource: DataSource;
  /** Bearer token of the bootstrap operator client (scope admin). */
  operatorToken(): Promise<string>;
  /** Every response this app sent, checked against openapi/openapi.json when it closes (test/support/contract.ts). */
  contract: ResponseRecorder;
  /** Client-credentials token for any client. */
  tokenFor(clientId: string, clientSecret: string, scope?: string): Promise<string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Run the queue processors in-process too (default true); false: HTTP only, another process consumes the jobs. */
  worker?: boolean;
  /** Listen on this port instead of a random one (e.g. to match PUBLIC_URL, which /docs gives as the server). */
  port?: number;
}

/**
 * The whole app (HTTP + worker in-process, unless `worker: false`) on the per-run test database (or the
 * DATABASE_URL given), listening on a random loopback port. Environment overrides win over the test defaults.
 */
export async function startTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const databaseUrl = env.DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!databaseUrl) throw new Error('TEST_DATABASE_URL is not set: run the e2e tests through jest (global setup)');
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'fuli-test-data-')),
    DATABASE_URL: databaseUrl,
    QUEUE_BACKEND: 'postgres',
    ADMIN_CLIENT_ID: TEST_ADMIN_CLIENT_ID,
    ADMIN_CLIENT_SECRET: TEST_ADMIN_CLIENT_SECRET,
    CLIENT_SECRET_KEY: TEST_CLIENT_SECRET_KEY,
    AUDIT_HMAC_KEYS: TEST_AUDIT_HMAC_KEYS,
    SEED_DEMO: 'false',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    ...env,
  });
  const runtime = await prepareRuntime(config);
  let app: NestFastifyApplication;
  let metricsUrl: string;
  let contract: ResponseRecorder | undefined;
  try {
    app = await createHttpApp(runtime, {
      worker: options.worker ?? true,
      beforeReady: (created) => {
        contract = recordResponses(created);
      },
    });
    await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
    metricsUrl = await app.get(MetricsServer).listen('127.0.0.1', 0);
  } catch (error) {
    await closeRuntime(runtime);
    throw error;
  }
  const url = await app.getUrl();
  const http = request(url);
  let operator: { token: string; expires: number } | null = null;

  const tokenFor = async (clientId: string, clientSecret: string, scope?: string) => {
    const response = await request(url)
      .post('/v1/oauth/token')
      .type('form')
      .send({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        ...(scope ? { scope } : {}),
      });
    if (response.status !== 200)
      throw new Error(`token request failed: ${response.status} ${JSON.stringify(response.body)}`);
    return (response.body as { access_token: string }).access_token;
  };

  return {
    app,
    runtime,
    http,
    url,
    metrics: request(metricsUrl),
    contract: contract!,
    dataSource: app.get(DataSource),
    tokenFor,
    async operatorToken() {
      if (!operator || operator.expires < Date.now()) {
        operator = {
          token: await tokenFor(TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET),
          expires: Date.now() + 600_000,
        };
      }
      return operator.token;
    },
    async close() {
      await shutdownHttpApp(app, runtime);
      // Every response this app sent must be one openapi/openapi.json documents (test/support/contract.ts).
      const violations = contract?.violations() ?? [];
      if (violations.length > 0) {
        throw new Error(`responses that openapi/openapi.json does not document:\n  ${violations.join('\n  ')}`);
      }
    },
  };
}
