import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  startTestApp,
  TEST_ADMIN_CLIENT_ID,
  TEST_ADMIN_CLIENT_SECRET,
  TEST_AUDIT_HMAC_KEYS,
  type TestApp,
} from './support/app';
import { createClient, createEnterprise, newCreditCode } from './support/fixtures';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';
import { waitFor, type PollOptions } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';
import { startSourceProcess, type WorkerProcess } from './support/worker-process';

const PROBLEM = /^application\/problem\+json/;
const POLL: PollOptions = { timeoutMs: 20_000, intervalMs: 50 };

/** Security and correctness of the HTTP edge: body parsing, client addresses, metrics and docs, NODE_ENV, SSRF. */
describe('HTTP hardening', () => {
  describe('request bodies', () => {
    let app: TestApp;
    let operator: string;

    beforeAll(async () => {
      app = await startTestApp();
      operator = await app.operatorToken();
    });
    afterAll(async () => {
      await app?.close();
    });

    const post = (path: string, contentType: string, body: string) =>
      app.http.post(path).auth(operator, { type: 'bearer' }).set('content-type', contentType).send(body);

    it('answers a text/plain body with 415 unsupported_media_type, not a 400 listing every field', async () => {
      const body = JSON.stringify({ name: 'Plain Co', credit_code: newCreditCode() });
      const response = await post('/v1/admin/enterprises', 'text/plain', body).expect(415);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.body).toMatchObject({ status: 415, code: 'unsupported_media_type' });
      expect(response.body).not.toHaveProperty('errors');
    });

    it('takes a form body on the token endpoint only', async () => {
      const form = `name=Form+Co&credit_code=${newCreditCode()}`;
      const refused = await post('/v1/admin/enterprises', 'application/x-www-form-urlencoded', form).expect(415);
      expect(refused.body).toMatchObject({ status: 415, code: 'unsupported_media_type' });
      const token = await app.http
        .post('/v1/oauth/token')
        .type('form')
        .send({
          grant_type: 'client_credentials',
          client_id: TEST_ADMIN_CLIENT_ID,
          client_secret: TEST_ADMIN_CLIENT_SECRET,
        })
        .expect(200);
      expect(token.body.access_token).toEqual(expect.any(String));
    });

    it('refuses __proto__ and constructor.prototype with forbidden_property, apart from malformed JSON', async () => {
      for (const body of [
        `{"name":"Proto Co","credit_code":"${newCreditCode()}","__proto__":{"isAdmin":true}}`,
        `{"name":"Proto Co","credit_code":"${newCreditCode()}","meta":{"__proto__":{"x":1}}}`,
        `{"name":"Ctor Co","credit_code":"${newCreditCode()}","constructor":{"prototype":{"isAdmin":true}}}`,
      ]) {
        const response = await post('/v1/admin/enterprises', 'application/json', body).expect(400);
        expect(response.headers['content-type']).toMatch(PROBLEM);
        expect(response.body).toMatchObject({ status: 400, code: 'forbidden_property' });
      }
      const form = await app.http
        .post('/v1/oauth/token')
        .set('content-type', 'application/x-www-form-urlencoded')
        .send('grant_type=client_credentials&__proto__=x')
        .expect(400);
      expect(form.body.code).toBe('forbidden_property');
      const malformed = await post('/v1/admin/enterprises', 'application/json', '{"name":').expect(400);
      expect(malformed.body.code).toBe('malformed_json');
      const empty = await post('/v1/admin/enterprises', 'application/json', '').expect(400);
      expect(empty.body.code).toBe('malformed_json');
    });
  });

  describe('TRUST_PROXY', () => {
    /** A token request as from 203.0.113.7 according to X-Forwarded-For, for a client allowed only there. */
    async function tokenFromForgedAddress(app: TestApp): Promise<number> {
      const enterprise = await createEnterprise(app);
      const fenced = await createClient(app, {
        enterprise_id: enterprise.id,
        scopes: ['orders:read'],
        ip_allowlist: ['203.0.113.0/24'],
      });
      const response = await app.http
        .post('/v1/oauth/token')
        .set('x-forwarded-for', '203.0.113.7')
        .type('form')
        .send({ grant_type: 'client_credentials', client_id: fenced.id, client_secret: fenced.client_secret });
      return response.status;
    }

    // One application at a time (each has keys of its own); the test client connects from 127.0.0.1.
    describe('with a proxy list that does not hold the peer', () => {
      let app: TestApp;
      beforeAll(async () => {
        app = await startTestApp({ TRUST_PROXY: '10.0.0.0/8' });
      });
      afterAll(async () => {
        await app?.close();
      });

      it("ignores X-Forwarded-For: the allow-list sees the peer's address", async () => {
        expect(await tokenFromForgedAddress(app)).toBe(401);
      });
    });

    describe('with the peer in the proxy list', () => {
      let app: TestApp;
      beforeAll(async () => {
        app = await startTestApp({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' });
      });
      afterAll(async () => {
        await app?.close();
      });

      it('believes X-Forwarded-For', async () => {
        expect(await tokenFromForgedAddress(app)).toBe(200);
      });
    });
  });

  describe('metrics and docs', () => {
    let app: TestApp;

    beforeAll(async () => {
      app = await startTestApp({ RATE_LIMIT_REQUESTS: '3' });
    });
    afterAll(async () => {
      await app?.close();
    });

    it('serves /metrics on its own listener only, not on the API port', async () => {
      const onApi = await app.http.get('/metrics').expect(404);
      expect(onApi.headers['content-type']).toMatch(PROBLEM);
      const scraped = await app.metrics.get('/metrics').expect(200);
      expect(scraped.headers['content-type']).toContain('text/plain');
      expect(scraped.text).toContain('http_request_duration_seconds');
      await app.metrics.get('/v1/me').expect(404);
    });

    it('rate-limits /docs per IP like the API', async () => {
      for (let i = 0; i < 3; i++) {
        const page = await app.http.get('/docs/openapi.json').expect(200);
        expect(page.headers['ratelimit-limit']).toBe('3');
      }
      const refused = await app.http.get('/docs').expect(429);
      expect(refused.headers['content-type']).toMatch(PROBLEM);
      expect(refused.body).toMatchObject({ status: 429, code: 'rate_limited' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // The refusal announces the spent budget in the same headers as the answers before it.
      expect(refused.headers['ratelimit-limit']).toBe('3');
      expect(refused.headers['ratelimit-remaining']).toBe('0');
      expect(refused.headers['ratelimit-reset']).toBe(refused.headers['retry-after']);
    });
  });

  describe('NODE_ENV', () => {
    const running: WorkerProcess[] = [];
    afterAll(async () => {
      await Promise.all(running.map((child) => child.kill()));
    });

    /** src/main.ts (or another entry) with no NODE_ENV and no keys, as `node dist/src/main.js <args>` on a bare host. */
    function start(entry: string, args: string[]) {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: process.env.TEST_DATABASE_URL,
        DATA_DIR: mkdtempSync(join(tmpdir(), 'fuli-node-env-')),
        PORT: '0',
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
        // The one key the shared test database's audit chain is signed with: a development boot appends to it.
        AUDIT_HMAC_KEYS: TEST_AUDIT_HMAC_KEYS,
      };
      const child = startSourceProcess(entry, args, env, 'pipe');
      running.push(child);
      let output = '';
      child.child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      return { child, output: () => output };
    }

    it('runs as production when NODE_ENV is unset: no generated keys, the boot stops naming them', async () => {
      for (const entry of ['main.ts', 'worker.ts']) {
        const { child, output } = start(entry, entry === 'main.ts' ? ['--api-only'] : []);
        expect(await child.exited).toEqual({ code: 1, signal: null });
        expect(output()).toMatch(/CODE_PEPPER is missing[\s\S]*ADMIN_CLIENT_SECRET is missing/);
      }
    });

    it('runs as development with --development, which npm start passes (and only npm start)', async () => {
      const { child, output } = start('main.ts', ['--development', '--api-only']);
      await waitFor(
        () => Promise.resolve(output()),
        (text) => text.includes('Fuli API listening') || child.child.exitCode !== null,
        { ...POLL, timeoutMs: 40_000 },
      );
      expect(output()).toContain('Fuli API listening');
      expect(output()).toContain('"NODE_ENV":"development"');
      await child.stop();

      const root = resolve(__dirname, '..');
      const scripts = (
        JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
      ).scripts;
      expect(scripts.start).toMatch(/node dist\/src\/main\.js --development$/);
      for (const name of ['start:prod', 'start:api', 'start:worker'])
        expect(scripts[name]).not.toContain('--development');
      const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
      expect(dockerfile).toContain('ENV NODE_ENV=production');
      expect(dockerfile).not.toContain('--development');
    });
  });

  describe('webhook targets', () => {
    let database: ScratchDatabase;
    let app: TestApp;
    let receiver: WebhookReceiver;
    let token: string;

    beforeAll(async () => {
      // A database of its own: no other file's worker runs these deliveries (see test/webhooks.e2e-spec.ts).
      database = await createScratchDatabase('hardening');
      app = await startTestApp({
        DATABASE_URL: database.url,
        WEBHOOK_RETRY_SCHEDULE_MS: '0',
        WEBHOOK_TIMEOUT_MS: '1000',
        WEBHOOK_RELAY_INTERVAL_MS: '50',
        WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      });
      receiver = await WebhookReceiver.start();
      const enterprise = await createEnterprise(app);
      const client = await createClient(app, { enterprise_id: enterprise.id, scopes: ['webhooks:manage'] });
      token = await app.tokenFor(client.id, client.client_secret);
    });
    afterAll(async () => {
      await app?.close();
      await receiver?.close();
      await database?.drop();
    });

    const register = (url: string) =>
      app.http
        .post('/v1/webhook-endpoints')
        .auth(token, { type: 'bearer' })
        .send({ url, event_types: ['*'] });

    /** Pings the endpoint and returns its one attempt once recorded. */
    async function pingAttempt(endpointId: string): Promise<Record<string, unknown>> {
      await app.http.post(`/v1/webhook-endpoints/${endpointId}/test`).auth(token, { type: 'bearer' }).expect(202);
      const [attempt] = await waitFor(
        async () =>
          (
            await app.http
              .get(`/v1/webhook-endpoints/${endpointId}/attempts`)
              .auth(token, { type: 'bearer' })
              .expect(200)
          ).body.data as Array<Record<string, unknown>>,
        (list) => list.length > 0,
        POLL,
      );
      return attempt;
    }

    it('refuses link-local, cloud-metadata and NAT64 addresses even where private networks are allowed', async () => {
      for (const url of [
        'http://169.254.1.1/hook',
        'http://[::ffff:169.254.1.1]/hook',
        'http://[::ffff:a9fe:a9fe]/latest/meta-data',
        'http://[fd00:ec2::1]/hook',
        'http://[64:ff9b::a9fe:a9fe]/hook',
        'http://[64:ff9b::7f00:1]/hook',
      ]) {
        const response = await register(url);
        expect({ url, status: response.status, code: response.body.code }).toEqual({
          url,
          status: 422,
          code: 'webhook_url_private_address',
        });
      }
      expect((await register(receiver.url('/allowed'))).status).toBe(201);
    });

    it('refuses an IPv4-mapped metadata address again at connect time (a URL changed after registration)', async () => {
      const endpoint = (await register(receiver.url('/rebound')).expect(201)).body as { id: string };
      // What DNS rebinding achieves for a host name, written straight into the row.
      await app.dataSource.query('UPDATE webhook_endpoints SET url = $1 WHERE id = $2', [
        'http://[::ffff:169.254.169.254]:81/latest/meta-data',
        endpoint.id,
      ]);
      const attempt = await pingAttempt(endpoint.id);
      expect(attempt).toMatchObject({ succeeded: false, response_status: null, error: 'address_blocked' });
    });

    it('never shows the tenant what a receiver on a private network answered', async () => {
      const endpoint = (await register(receiver.url('/internal')).expect(201)).body as { id: string };
      receiver.on('/internal', () => ({ status: 500, body: 'internal admin page: db password is hunter2' }));
      const attempt = await pingAttempt(endpoint.id);
      expect(attempt).toMatchObject({ succeeded: false, response_status: 500, response_body: null });
      expect(receiver.at('/internal')).toHaveLength(1);
    });
  });
});
