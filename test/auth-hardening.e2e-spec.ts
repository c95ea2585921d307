import { randomBytes, scryptSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Response } from 'supertest';
import { ApiClientSecret } from '../src/auth/api-client.entity';
import { startTestApp, TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET, type TestApp } from './support/app';
import { createClient, createEnterprise, enterpriseWithClient } from './support/fixtures';
import { createScratchDatabase } from './support/scratch-database';

const tokenRequest = (app: TestApp, clientId: string, clientSecret: string) =>
  app.http
    .post('/v1/oauth/token')
    .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });

/** A hash as versions before HMAC stored client secrets: `scrypt$N$r$p$salt$hash` at N=2^15. */
function legacyScryptHash(secret: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(secret, salt, 32, { N: 32_768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', 32_768, 8, 1, salt.toString('base64'), key.toString('base64')].join('$');
}

describe('token endpoint hardening', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ TOKEN_FAILURE_LIMIT: '3', RATE_LIMIT_REQUESTS: '100000' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('keeps answering other clients while one client id is flooded with wrong secrets', async () => {
    const target = await enterpriseWithClient(app, ['orders:read']);
    const other = await enterpriseWithClient(app, ['orders:read']);
    // then() sends each request now (supertest sends on first then), so all 60 are in flight before the next one.
    const flood = Array.from({ length: 60 }, () =>
      tokenRequest(app, target.client.id, 'fsk_wrong-secret-000000000000').then((response) => response),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const legitimate = await tokenRequest(app, other.client.id, other.client.client_secret);
    const took = Date.now() - started;
    const answers = await Promise.all(flood);
    expect(legitimate.status).toBe(200);
    // The unhardened endpoint ran 60 scrypt checks (≈ 250 ms each on a busy machine) ahead of it: seconds.
    expect(took).toBeLessThan(3_000);
    expect(answers.every((answer) => answer.status === 401 || answer.status === 429)).toBe(true);
  });

  it('counts failures per client id and refuses it with 429 before checking any secret', async () => {
    const { client } = await enterpriseWithClient(app, ['orders:read']);
    const other = await enterpriseWithClient(app, ['orders:read']);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await tokenRequest(app, client.id, 'fsk_wrong')).status);
    expect(statuses).toEqual([401, 401, 401]);
    // Even the right secret is refused now: nothing is checked while the client id is over its budget.
    const refused = await tokenRequest(app, client.id, client.client_secret).expect(429);
    expect(refused.body.code).toBe('too_many_failed_attempts');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.body).not.toHaveProperty('access_token');
    // Another client id has a budget of its own.
    await tokenRequest(app, other.client.id, other.client.client_secret).expect(200);
  });

  it('answers a right secret from a refused address exactly like a wrong secret', async () => {
    const enterprise = await createEnterprise(app);
    const fenced = await createClient(app, {
      enterprise_id: enterprise.id,
      scopes: ['orders:read'],
      ip_allowlist: ['203.0.113.0/24'],
    });
    const rightSecret = await tokenRequest(app, fenced.id, fenced.client_secret).expect(401);
    const wrongSecret = await tokenRequest(app, fenced.id, 'fsk_wrong').expect(401);
    const unknown = await tokenRequest(app, 'cli_doesnotexist000', 'fsk_wrong').expect(401);
    for (const answer of [rightSecret, wrongSecret, unknown]) {
      expect(answer.body).toMatchObject({ error: 'invalid_client', error_description: 'Client authentication failed' });
    }
  });

  it('still accepts secrets stored as scrypt hashes, and stores them as HMAC from their next use', async () => {
    const { client } = await enterpriseWithClient(app, ['orders:read']);
    const secrets = app.dataSource.getRepository(ApiClientSecret);
    await secrets.update({ clientId: client.id }, { hash: legacyScryptHash(client.client_secret) });
    await tokenRequest(app, client.id, client.client_secret).expect(200);
    const [stored] = await secrets.findBy({ clientId: client.id });
    expect(stored.hash).toMatch(/^hmac-sha256\$/);
    await tokenRequest(app, client.id, client.client_secret).expect(200);
    await tokenRequest(app, client.id, 'fsk_wrong').expect(401);
  });

  it('answers 400 invalid_request for Basic credentials that are not valid form-url-encoding', async () => {
    const response = await app.http
      .post('/v1/oauth/token')
      .set('authorization', `Basic ${Buffer.from('%zz:%zz').toString('base64')}`)
      .type('form')
      .send({ grant_type: 'client_credentials' })
      .expect(400);
    expect(response.body).toMatchObject({ error: 'invalid_request', code: 'invalid_request' });
  });
});

describe('tokens and secret rotation', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_REQUESTS: '100000' });
  });
  afterAll(async () => {
    await app.close();
  });

  const me = (token: string) => app.http.get('/v1/me').auth(token, { type: 'bearer' });
  const rotate = async (clientId: string, grace: number) =>
    (
      await app.http
        .post(`/v1/admin/api-clients/${clientId}/rotate-secret`)
        .auth(await app.operatorToken(), { type: 'bearer' })
        .send({ previous_secret_expires_in: grace })
        .expect(200)
    ).body as { client_secret: string };

  it('stops tokens minted with a secret as soon as that secret is rotated out', async () => {
    const { client, token } = await enterpriseWithClient(app, ['orders:read']);
    await me(token).expect(200);
    const { client_secret: newSecret } = await rotate(client.id, 0);
    const refused = await me(token).expect(401);
    expect(refused.body.code).toBe('invalid_token');
    await me(await app.tokenFor(client.id, newSecret)).expect(200);
  });

  it('keeps such tokens for the grace period, and not a moment after the old secret expires', async () => {
    const { client, token } = await enterpriseWithClient(app, ['orders:read']);
    const { client_secret: newSecret } = await rotate(client.id, 2);
    // Minted during the grace period with the old secret: it lives exactly as long as that secret.
    const graceToken = await app.tokenFor(client.id, client.client_secret);
    const newToken = await app.tokenFor(client.id, newSecret);
    await me(token).expect(200);
    await me(graceToken).expect(200);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await me(token).expect(401);
    await me(graceToken).expect(401);
    await me(newToken).expect(200);
  });
});

describe('operator routes', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_REQUESTS: '100000' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('refuse an enterprise client even when it holds the admin scope', async () => {
    const { client } = await enterpriseWithClient(app, ['orders:read']);
    // Creation never allows this; a row edited by hand (or by an older version) must not open the admin API.
    await app.dataSource.query(`UPDATE api_clients SET scopes = '{orders:read,admin}' WHERE id = $1`, [client.id]);
    const token = await app.tokenFor(client.id, client.client_secret);
    expect((jwt.decode(token) as jwt.JwtPayload).scope).toContain('admin');
    const response = await app.http.get('/v1/admin/enterprises').auth(token, { type: 'bearer' }).expect(403);
    expect(response.body.code).toBe('operator_client_required');
    await app.http
      .get('/v1/admin/enterprises')
      .auth(await app.operatorToken(), { type: 'bearer' })
      .expect(200);
  });
});

describe('401 and 403 answers spend rate budgets', () => {
  let app: TestApp;
  const LIMIT = 20;

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_REQUESTS: String(LIMIT), RATE_LIMIT_WINDOW_SECONDS: '60' });
  });
  afterAll(async () => {
    await app.close();
  });

  const expectLimited = (responses: Response[], status: number) => {
    const statuses = responses.map((response) => response.status);
    const first429 = statuses.indexOf(429);
    expect(first429).toBeGreaterThan(0);
    expect(first429).toBeLessThanOrEqual(LIMIT);
    expect(statuses.slice(0, first429).every((answer) => answer === status)).toBe(true);
    expect(statuses.slice(first429).every((answer) => answer === 429)).toBe(true);
    for (const response of responses.slice(0, first429)) {
      expect(response.headers['ratelimit-limit']).toBe(String(LIMIT));
      expect(response.headers['ratelimit-remaining']).toEqual(expect.any(String));
    }
    expect(Number(responses[first429].headers['retry-after'])).toBeGreaterThan(0);
  };

  it('limits forbidden calls per client, and calls without a valid token per IP', async () => {
    // Forbidden first: the per-IP budget is spent afterwards.
    const { token } = await enterpriseWithClient(app, ['orders:read']);
    const forbidden: Response[] = [];
    for (let i = 0; i < LIMIT + 2; i++) {
      forbidden.push(await app.http.get('/v1/admin/enterprises').auth(token, { type: 'bearer' }));
    }
    expectLimited(forbidden, 403);

    // A token verified before whose client is then revoked: its 401s spend the client's budget.
    const revoked = await enterpriseWithClient(app, ['orders:read']);
    await app.http.get('/v1/me').auth(revoked.token, { type: 'bearer' }).expect(200);
    await app.http
      .post(`/v1/admin/api-clients/${revoked.client.id}/revoke`)
      .auth(await app.operatorToken(), { type: 'bearer' })
      .expect(200);
    const afterRevocation: Response[] = [];
    for (let i = 0; i < LIMIT + 2; i++) {
      afterRevocation.push(await app.http.get('/v1/me').auth(revoked.token, { type: 'bearer' }));
    }
    expectLimited(afterRevocation, 401);

    const anonymous: Response[] = [];
    for (let i = 0; i < LIMIT + 2; i++) {
      anonymous.push(await app.http.get('/v1/me').auth('not-a-token', { type: 'bearer' }));
    }
    expectLimited(anonymous, 401);
  });
});

describe('suspending an enterprise', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_REQUESTS: '100000' });
  });
  afterAll(async () => {
    await app.close();
  });

  const setStatus = async (enterpriseId: string, status: 'active' | 'suspended') =>
    app.http
      .patch(`/v1/admin/enterprises/${enterpriseId}`)
      .auth(await app.operatorToken(), { type: 'bearer' })
      .send({ status })
      .expect(200);

  it('refuses the tenant new tokens and every write, keeps its reads open, and ends when re-activated', async () => {
    const { enterprise, client, token } = await enterpriseWithClient(app, [
      'orders:read',
      'orders:write',
      'orders:approve',
      'webhooks:manage',
      'cards:secrets',
    ]);
    await setStatus(enterprise.id, 'suspended');

    const refused = await tokenRequest(app, client.id, client.client_secret).expect(401);
    expect(refused.body.error).toBe('invalid_client');
    expect(refused.body.error_description).toMatch(/suspended/);

    // A token issued before the suspension: writes are refused before their bodies are even looked at.
    const writes = [
      app.http.post('/v1/webhook-endpoints').auth(token, { type: 'bearer' }).send({}),
      app.http
        .patch(`/v1/enterprises/${enterprise.id}`)
        .auth(token, { type: 'bearer' })
        .send({ approval_threshold: 1 }),
      app.http.post('/v1/orders').auth(token, { type: 'bearer' }).send({}),
      // Reads that hand out card codes are closed as well.
      app.http.get('/v1/exports/exp_01JDQ6ZK6Y8V3N2M4T5R7W9XAB').auth(token, { type: 'bearer' }),
    ];
    for (const response of await Promise.all(writes)) {
      expect(response.status).toBe(403);
      expect(response.body.code).toBe('enterprise_suspended');
    }
    await app.http.get(`/v1/enterprises/${enterprise.id}`).auth(token, { type: 'bearer' }).expect(200);
    await app.http.get('/v1/webhook-endpoints').auth(token, { type: 'bearer' }).expect(200);

    await setStatus(enterprise.id, 'active');
    await app.http
      .patch(`/v1/enterprises/${enterprise.id}`)
      .auth(token, { type: 'bearer' })
      .send({ approval_threshold: 1 })
      .expect(200);
    await tokenRequest(app, client.id, client.client_secret).expect(200);
  });
});

describe('a revoked bootstrap operator client', () => {
  it('stays revoked across restarts: boot fails unless ADMIN_CLIENT_REACTIVATE is set', async () => {
    const database = await createScratchDatabase('bootstrap_revoked');
    try {
      const first = await startTestApp({ DATABASE_URL: database.url }, { worker: false });
      try {
        await first.http
          .post(`/v1/admin/api-clients/${TEST_ADMIN_CLIENT_ID}/revoke`)
          .auth(await first.operatorToken(), { type: 'bearer' })
          .expect(200);
        await tokenRequest(first, TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET).expect(401);
      } finally {
        await first.close();
      }

      await expect(startTestApp({ DATABASE_URL: database.url }, { worker: false })).rejects.toThrow(
        /bootstrap operator client cli_testoperator \(ADMIN_CLIENT_ID\) was revoked[\s\S]*ADMIN_CLIENT_REACTIVATE/,
      );

      const recovered = await startTestApp(
        { DATABASE_URL: database.url, ADMIN_CLIENT_REACTIVATE: 'true' },
        { worker: false },
      );
      try {
        await tokenRequest(recovered, TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET).expect(200);
        const [audit] = await recovered.dataSource.query<Array<{ action: string }>>(
          `SELECT action FROM audit_records WHERE object_id = $1 ORDER BY seq DESC LIMIT 1`,
          [TEST_ADMIN_CLIENT_ID],
        );
        expect(audit.action).toBe('api_client.bootstrap_reactivated');
      } finally {
        await recovered.close();
      }
    } finally {
      await database.drop();
    }
  });
});
