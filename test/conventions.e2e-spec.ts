import pg from 'pg';
import { startTestApp, type TestApp } from './support/app';
import { enterpriseWithClient, newCreditCode } from './support/fixtures';

const PROBLEM = /^application\/problem\+json/;

describe('API conventions', () => {
  let app: TestApp;
  let operator: string;

  beforeAll(async () => {
    app = await startTestApp({ BODY_LIMIT_BYTES: '4096' });
    operator = await app.operatorToken();
  });
  afterAll(async () => {
    await app.close();
  });

  const createEnterprise = (body: unknown, headers: Record<string, string> = {}) =>
    app.http
      .post('/v1/admin/enterprises')
      .auth(operator, { type: 'bearer' })
      .set(headers)
      .send(body as object);

  describe('problem+json errors', () => {
    it('lists every invalid field and refuses unknown ones', async () => {
      const response = await createEnterprise({ name: '', credit_code: 'short', colour: 'red' }).expect(400);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.body).toMatchObject({
        type: 'urn:fuli:problem:validation_failed',
        title: 'Bad Request',
        status: 400,
        code: 'validation_failed',
      });
      const fields = (response.body.errors as Array<{ field: string }>).map((error) => error.field);
      expect(fields).toEqual(expect.arrayContaining(['name', 'credit_code', 'colour']));
      expect(response.body.errors.find((error: { field: string }) => error.field === 'colour').message).toBe(
        "unknown field 'colour'",
      );
    });

    it('answers malformed JSON with 400 malformed_json', async () => {
      const response = await app.http
        .post('/v1/admin/enterprises')
        .auth(operator, { type: 'bearer' })
        .set('content-type', 'application/json')
        .send('{"name": "Acme",')
        .expect(400);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.body).toMatchObject({ code: 'malformed_json', request_id: expect.any(String) });
    });

    it('answers an unsupported content type with 415', async () => {
      const response = await app.http
        .post('/v1/admin/enterprises')
        .auth(operator, { type: 'bearer' })
        .set('content-type', 'text/csv')
        .send('name,credit_code\nAcme,x')
        .expect(415);
      expect(response.body).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    });

    it('answers an oversized body with 413 before reading it all', async () => {
      const response = await createEnterprise({ name: 'x'.repeat(10_000), credit_code: newCreditCode() }).expect(413);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.body).toMatchObject({ status: 413, code: 'payload_too_large' });
    });

    it('answers unknown routes with 404 problem+json', async () => {
      const response = await app.http.get('/v1/nothing-here').auth(operator, { type: 'bearer' }).expect(404);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.body.code).toBe('resource_not_found');
    });

    it('echoes a caller X-Request-Id and puts it in problems; makes one otherwise', async () => {
      const traced = await app.http
        .get('/v1/admin/enterprises/ent_00000000000000000000000000')
        .auth(operator, { type: 'bearer' })
        .set('x-request-id', 'erp-trace-42')
        .expect(404);
      expect(traced.headers['x-request-id']).toBe('erp-trace-42');
      expect(traced.body.request_id).toBe('erp-trace-42');
      const fresh = await app.http.get('/health/live').expect(200);
      expect(fresh.headers['x-request-id']).toMatch(/^req_[0-9A-Z]{26}$/);
    });

    it('sends the REST security headers on API responses, errors included', async () => {
      const ok = await app.http.get('/v1/me').auth(operator, { type: 'bearer' }).expect(200);
      const problem = await app.http.get('/v1/me').expect(401);
      for (const response of [ok, problem]) {
        expect(response.headers['x-content-type-options']).toBe('nosniff');
        expect(response.headers['x-frame-options']).toBe('DENY');
        expect(response.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
        expect(response.headers['cache-control']).toBe('no-store');
        expect(response.headers['x-powered-by']).toBeUndefined();
      }
    });

    it('lets a route choose its own caching (the JWKS may be cached)', async () => {
      const response = await app.http.get('/.well-known/jwks.json').expect(200);
      expect(response.headers['cache-control']).toBe('public, max-age=300');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    });

    it('gives the docs page a CSP that lets Swagger UI run, and frames only from itself', async () => {
      const response = await app.http.get('/docs').expect(200);
      expect(response.headers['content-security-policy']).toContain("default-src 'self'");
      expect(response.headers['content-security-policy']).toContain("script-src 'self' 'unsafe-inline'");
      expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the stored response for the same key and body, creating one object', async () => {
      const body = { name: 'Idem Co', credit_code: newCreditCode() };
      const key = `idem-${Date.now()}`;
      const first = await createEnterprise(body, { 'idempotency-key': key }).expect(201);
      const second = await createEnterprise(body, { 'idempotency-key': key }).expect(201);
      expect(second.body).toEqual(first.body);
      expect(second.headers['idempotent-replayed']).toBe('true');
      const rows = await app.dataSource.query('SELECT count(*)::int AS n FROM enterprises WHERE credit_code = $1', [
        body.credit_code,
      ]);
      expect(rows[0].n).toBe(1);
    });

    it('keeps stored responses encrypted: a replayed client secret never sits in the table in clear', async () => {
      const enterprise = (await createEnterprise({ name: 'Sealed Co', credit_code: newCreditCode() }).expect(201)).body;
      const key = `idem-secret-${Date.now()}`;
      const create = () =>
        app.http
          .post('/v1/admin/api-clients')
          .auth(operator, { type: 'bearer' })
          .set('idempotency-key', key)
          .send({ name: 'hr', enterprise_id: enterprise.id, scopes: ['orders:read'] });
      const first = await create().expect(201);
      const replay = await create().expect(201);
      expect(replay.body.client_secret).toBe(first.body.client_secret);
      const [row] = await app.dataSource.query(
        'SELECT response_body::text AS body FROM idempotency_keys WHERE key = $1',
        [key],
      );
      expect(row.body).not.toContain(first.body.client_secret);
      expect(row.body).toContain('"sealed"');
    });

    it('refuses the same key with another body with 422 idempotency_key_reused', async () => {
      const key = `idem-other-${Date.now()}`;
      await createEnterprise({ name: 'First', credit_code: newCreditCode() }, { 'idempotency-key': key }).expect(201);
      const response = await createEnterprise(
        { name: 'Second', credit_code: newCreditCode() },
        { 'idempotency-key': key },
      ).expect(422);
      expect(response.body.code).toBe('idempotency_key_reused');
    });

    it('answers 409 idempotency_key_in_use while the first request holds the key', async () => {
      const key = `idem-inflight-${Date.now()}`;
      const clientId = app.runtime.config.ADMIN_CLIENT_ID;
      const holder = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await holder.connect();
      try {
        // Stand in for a first request still running: hold the key's lock as the interceptor does.
        await holder.query('SELECT pg_advisory_lock(7301, hashtext($1))', [`${clientId}:${key}`]);
        const response = await createEnterprise(
          { name: 'Busy', credit_code: newCreditCode() },
          { 'idempotency-key': key },
        ).expect(409);
        expect(response.body.code).toBe('idempotency_key_in_use');
      } finally {
        await holder.end();
      }
      await createEnterprise({ name: 'Busy', credit_code: newCreditCode() }, { 'idempotency-key': key }).expect(201);
    });

    it('lets racing requests with one key create exactly one object', async () => {
      const body = { name: 'Race Co', credit_code: newCreditCode() };
      const key = `idem-race-${Date.now()}`;
      const responses = await Promise.all(
        Array.from({ length: 8 }, () => createEnterprise(body, { 'idempotency-key': key })),
      );
      const statuses = responses.map((response) => response.status);
      expect(statuses.every((status) => status === 201 || status === 409)).toBe(true);
      const created = responses.filter((response) => response.status === 201);
      expect(new Set(created.map((response) => response.body.id)).size).toBe(1);
      const rows = await app.dataSource.query('SELECT count(*)::int AS n FROM enterprises WHERE credit_code = $1', [
        body.credit_code,
      ]);
      expect(rows[0].n).toBe(1);
    });

    it('stores nothing for a failed request, so it can be retried with the same key', async () => {
      const key = `idem-fail-${Date.now()}`;
      const code = newCreditCode();
      const bad = `${code.slice(0, 17)}${code[17] === '0' ? '1' : '0'}`;
      await createEnterprise({ name: 'Fix Me', credit_code: bad }, { 'idempotency-key': key }).expect(422);
      const stored = await app.dataSource.query('SELECT count(*)::int AS n FROM idempotency_keys WHERE key = $1', [
        key,
      ]);
      expect(stored[0].n).toBe(0);
      await createEnterprise({ name: 'Fix Me', credit_code: code }, { 'idempotency-key': key }).expect(201);
    });

    it('refuses a malformed key', async () => {
      const response = await createEnterprise(
        { name: 'x', credit_code: newCreditCode() },
        { 'idempotency-key': 'x'.repeat(256) },
      ).expect(400);
      expect(response.body.code).toBe('invalid_idempotency_key');
    });
  });

  describe('metrics', () => {
    it('times every request by route template (not by raw URL) and status', async () => {
      const count = async (labels: string): Promise<number> => {
        const text = (await app.metrics.get('/metrics').expect(200)).text;
        const line = text.split('\n').find((l) => l.startsWith(`http_request_duration_seconds_count{${labels}}`));
        return line ? Number(line.split(' ').pop()) : 0;
      };
      const token = await app.operatorToken();
      const notFoundLabels = 'method="GET",route="/v1/admin/enterprises/:id",status="404"';
      const before = await count(notFoundLabels);
      for (let i = 0; i < 3; i++) {
        await app.http.get(`/v1/admin/enterprises/ent_0000000000000000000000000${i}`).auth(token, { type: 'bearer' });
      }
      expect(await count(notFoundLabels)).toBe(before + 3);
      const text = (await app.metrics.get('/metrics').expect(200)).text;
      expect(text).not.toContain('ent_00000000000000000000000000');
      expect(text).toMatch(/http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/v1\/admin/);
    });
  });

  describe('cursor pagination', () => {
    it('walks a list newest first without gaps or repeats', async () => {
      const created: string[] = [];
      for (let i = 0; i < 5; i++)
        created.push((await createEnterprise({ name: `Page ${i}`, credit_code: newCreditCode() }).expect(201)).body.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: Record<string, string | number> = { limit: 2, ...(cursor ? { starting_after: cursor } : {}) };
        const page = await app.http
          .get('/v1/admin/enterprises')
          .query(query)
          .auth(operator, { type: 'bearer' })
          .expect(200);
        expect(page.body.object).toBe('list');
        expect(page.body.data.length).toBeLessThanOrEqual(2);
        seen.push(...page.body.data.map((item: { id: string }) => item.id));
        cursor = page.body.has_more ? page.body.next_cursor : null;
      } while (cursor);
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort().reverse()).toEqual(seen);
      const positions = created.map((id) => seen.indexOf(id));
      expect(positions.every((position) => position >= 0)).toBe(true);
    });

    it('refuses a limit above 100 and a malformed cursor', async () => {
      const tooMany = await app.http
        .get('/v1/admin/enterprises?limit=101')
        .auth(operator, { type: 'bearer' })
        .expect(400);
      expect(tooMany.body.errors[0].field).toBe('limit');
      const badCursor = await app.http
        .get('/v1/admin/enterprises?starting_after=nope')
        .auth(operator, { type: 'bearer' })
        .expect(400);
      expect(badCursor.body.errors[0].field).toBe('starting_after');
    });
  });
});

describe('rate limits', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_REQUESTS: '5', RATE_LIMIT_WINDOW_SECONDS: '60' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('counts per client, announces the budget and answers 429 with Retry-After when spent', async () => {
    const token = await app.operatorToken(); // the token request spends the IP budget, not the client's
    const statuses: number[] = [];
    let last: import('supertest').Response | undefined;
    for (let i = 0; i < 6; i++) {
      last = await app.http.get('/v1/admin/enterprises').auth(token, { type: 'bearer' });
      statuses.push(last.status);
      if (i === 0) {
        expect(last.headers['ratelimit-limit']).toBe('5');
        expect(last.headers['ratelimit-remaining']).toBe('4');
        expect(Number(last.headers['ratelimit-reset'])).toBeGreaterThan(0);
      }
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(last!.headers['content-type']).toMatch(PROBLEM);
    expect(last!.body.code).toBe('rate_limited');
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
  });
});

const describeWithRedis = process.env.TEST_REDIS_AVAILABLE === '1' ? describe : describe.skip;

describeWithRedis('rate limits shared through Redis', () => {
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    // The per-IP budget is shared by every test run on this Redis: only the per-client one is under test here.
    const env = {
      REDIS_URL: redisUrl,
      QUEUE_BACKEND: 'postgres',
      RATE_LIMIT_REQUESTS: '5',
      RATE_LIMIT_IP_REQUESTS: '100000',
    };
    first = await startTestApp(env);
    // Like two API processes of one deployment: same signing key (passport strategies are also process-global).
    second = await startTestApp({ ...env, JWT_SIGNING_KEY: first.runtime.config.JWT_SIGNING_KEY });
  });
  afterAll(async () => {
    await first.close();
    await second.close();
  });

  it('spends one budget per client across API processes', async () => {
    // A fresh client, so counters left in Redis by earlier runs cannot interfere.
    const { enterprise, token } = await enterpriseWithClient(first, ['orders:read']);
    const statuses: number[] = [];
    for (const app of [first, second, first, second, first, second]) {
      statuses.push((await app.http.get(`/v1/enterprises/${enterprise.id}`).auth(token, { type: 'bearer' })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});
