import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { startTestApp, TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET, type TestApp } from './support/app';
import { createClient, createEnterprise, enterpriseWithClient } from './support/fixtures';

describe('OAuth2 client credentials and access tokens', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  describe('POST /v1/oauth/token', () => {
    it('issues an ES256 JWT with kid, 15-minute lifetime and the client scopes (form body)', async () => {
      const { enterprise, client } = await enterpriseWithClient(app, ['products:read', 'orders:read']);
      const response = await app.http
        .post('/v1/oauth/token')
        .type('form')
        .send({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.client_secret })
        .expect(200);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 900,
        scope: 'products:read orders:read',
      });
      const decoded = jwt.decode(response.body.access_token, { complete: true })!;
      expect(decoded.header.alg).toBe('ES256');
      expect(decoded.header.kid).toEqual(expect.any(String));
      const payload = decoded.payload as jwt.JwtPayload;
      expect(payload.sub).toBe(client.id);
      expect(payload.ent).toBe(enterprise.id);
      expect(payload.exp! - payload.iat!).toBe(900);

      const jwks = await app.http.get('/.well-known/jwks.json').expect(200);
      const jwk = jwks.body.keys.find((key: { kid: string }) => key.kid === decoded.header.kid);
      expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(jwk).not.toHaveProperty('d');
      const verified = jwt.verify(response.body.access_token, createPublicKey({ key: jwk, format: 'jwk' }), {
        algorithms: ['ES256'],
      });
      expect((verified as jwt.JwtPayload).sub).toBe(client.id);
    });

    it('accepts JSON bodies and HTTP Basic credentials, and narrows scopes on request', async () => {
      const { client } = await enterpriseWithClient(app, ['products:read', 'orders:read']);
      const json = await app.http
        .post('/v1/oauth/token')
        .send({
          grant_type: 'client_credentials',
          client_id: client.id,
          client_secret: client.client_secret,
          scope: 'orders:read',
        })
        .expect(200);
      expect(json.body.scope).toBe('orders:read');
      const basic = await app.http
        .post('/v1/oauth/token')
        .auth(client.id, client.client_secret)
        .type('form')
        .send({ grant_type: 'client_credentials' })
        .expect(200);
      expect(basic.body.scope).toBe('products:read orders:read');
    });

    it.each([
      [{ client_secret: 'wrong-secret-000000000000' }, 401, 'invalid_client'],
      [{ client_id: 'cli_doesnotexist' }, 401, 'invalid_client'],
      [{ grant_type: 'password' }, 400, 'unsupported_grant_type'],
      [{ grant_type: undefined }, 400, 'invalid_request'],
      [{ client_secret: undefined }, 400, 'invalid_request'],
      [{ scope: 'admin' }, 400, 'invalid_scope'],
      [{ scope: 'no-such-scope' }, 400, 'invalid_scope'],
    ])('refuses %j with %i %s (RFC 6749 §5.2)', async (change, status, error) => {
      const { client } = await enterpriseWithClient(app, ['products:read']);
      const body: Record<string, unknown> = {
        grant_type: 'client_credentials',
        client_id: client.id,
        client_secret: client.client_secret,
        ...change,
      };
      const response = await app.http.post('/v1/oauth/token').send(body).expect(status);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.body).toMatchObject({ error, error_description: expect.any(String), code: error, status });
      expect(response.body.request_id).toEqual(expect.any(String));
    });

    it('answers a failed HTTP Basic login with a Basic challenge', async () => {
      const response = await app.http
        .post('/v1/oauth/token')
        .auth('cli_nobody', 'nothing')
        .type('form')
        .send({ grant_type: 'client_credentials' })
        .expect(401);
      expect(response.headers['www-authenticate']).toBe('Basic realm="fuli"');
    });

    it('refuses clients calling from outside their IP allow-list', async () => {
      const enterprise = await createEnterprise(app);
      const fenced = await createClient(app, {
        enterprise_id: enterprise.id,
        scopes: ['orders:read'],
        ip_allowlist: ['203.0.113.0/24'],
      });
      const open = await createClient(app, {
        enterprise_id: enterprise.id,
        scopes: ['orders:read'],
        ip_allowlist: ['127.0.0.1', '::1'],
      });
      const refused = await app.http
        .post('/v1/oauth/token')
        .send({ grant_type: 'client_credentials', client_id: fenced.id, client_secret: fenced.client_secret })
        .expect(401);
      expect(refused.body.error).toBe('invalid_client');
      await app.tokenFor(open.id, open.client_secret);
    });
  });

  describe('bearer tokens on API calls', () => {
    it('refuses a missing, forged, tampered or expired token with 401 problem+json', async () => {
      const { enterprise, token } = await enterpriseWithClient(app, ['orders:read']);
      const call = (authorization?: string) => {
        const req = app.http.get(`/v1/enterprises/${enterprise.id}`);
        return authorization ? req.set('authorization', authorization) : req;
      };
      await call(`Bearer ${token}`).expect(200);

      const missing = await call().expect(401);
      expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(missing.body).toMatchObject({
        status: 401,
        code: 'missing_token',
        type: 'urn:fuli:problem:missing_token',
      });

      const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const claims = jwt.decode(token) as jwt.JwtPayload;
      const kid = (jwt.decode(token, { complete: true })!.header.kid as string) ?? '';
      const forged = jwt.sign({ ...claims }, otherKey, { algorithm: 'ES256', keyid: kid });
      expect((await call(`Bearer ${forged}`).expect(401)).body.code).toBe('invalid_token');

      const [header, , signature] = token.split('.');
      const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url');
      expect((await call(`Bearer ${header}.${widened}.${signature}`).expect(401)).body.code).toBe('invalid_token');

      const none = jwt.sign({ ...claims }, '', { algorithm: 'none' });
      expect((await call(`Bearer ${none}`).expect(401)).body.code).toBe('invalid_token');

      const { iat: _iat, exp: _exp, ...rest } = claims;
      const expired = jwt.sign(
        { ...rest, iat: claims.iat! - 3600, exp: claims.iat! - 1800 },
        app.runtime.config.JWT_SIGNING_KEY,
        {
          algorithm: 'ES256',
          keyid: kid,
        },
      );
      expect((await call(`Bearer ${expired}`).expect(401)).body.code).toBe('token_expired');
    });

    it('tells a token holder who it is, with the scopes the token grants', async () => {
      const { enterprise, client } = await enterpriseWithClient(app, ['orders:read', 'products:read']);
      const narrow = await app.tokenFor(client.id, client.client_secret, 'orders:read');
      for (let i = 0; i < 2; i++) {
        // The second call takes the verified-token path: same answer.
        const me = await app.http.get('/v1/me').auth(narrow, { type: 'bearer' }).expect(200);
        expect(me.body).toEqual({
          object: 'identity',
          client_id: client.id,
          enterprise_id: enterprise.id,
          scopes: ['orders:read'],
        });
      }
    });

    it('re-checks a remembered token against its client every time (revocation, allow-list)', async () => {
      const { enterprise, client, token } = await enterpriseWithClient(app, ['orders:read']);
      await app.http.get('/v1/me').auth(token, { type: 'bearer' }).expect(200);
      await app.http.get('/v1/me').auth(token, { type: 'bearer' }).expect(200);
      await app.http
        .post(`/v1/admin/api-clients/${client.id}/revoke`)
        .auth(await app.operatorToken(), { type: 'bearer' })
        .expect(200);
      const refused = await app.http
        .get(`/v1/enterprises/${enterprise.id}`)
        .auth(token, { type: 'bearer' })
        .expect(401);
      expect(refused.body.code).toBe('invalid_token');
    });

    it('refuses a token without the scope a route needs with 403 insufficient_scope', async () => {
      const { token } = await enterpriseWithClient(app, ['orders:read']);
      const response = await app.http.get('/v1/admin/enterprises').auth(token, { type: 'bearer' }).expect(403);
      expect(response.body).toMatchObject({ status: 403, code: 'insufficient_scope' });
    });

    it("answers another tenant's object with 404, exactly like a missing one", async () => {
      const mine = await enterpriseWithClient(app, ['orders:read']);
      const other = await createEnterprise(app);
      const foreign = await app.http
        .get(`/v1/enterprises/${other.id}`)
        .auth(mine.token, { type: 'bearer' })
        .expect(404);
      const missing = await app.http
        .get('/v1/enterprises/ent_00000000000000000000000000')
        .auth(mine.token, { type: 'bearer' })
        .expect(404);
      expect(foreign.body.code).toBe('resource_not_found');
      expect(missing.body.code).toBe('resource_not_found');
      expect(JSON.stringify(foreign.body)).not.toContain(other.name);
    });
  });

  describe('client lifecycle', () => {
    it('revocation stops new tokens and tokens already issued', async () => {
      const { enterprise, client, token } = await enterpriseWithClient(app, ['orders:read']);
      await app.http.get(`/v1/enterprises/${enterprise.id}`).auth(token, { type: 'bearer' }).expect(200);
      const revoked = await app.http
        .post(`/v1/admin/api-clients/${client.id}/revoke`)
        .auth(await app.operatorToken(), { type: 'bearer' })
        .expect(200);
      expect(revoked.body).toMatchObject({ status: 'revoked', active_secrets: [] });
      await app.http.get(`/v1/enterprises/${enterprise.id}`).auth(token, { type: 'bearer' }).expect(401);
      await app.http
        .post('/v1/oauth/token')
        .send({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.client_secret })
        .expect(401);
    });

    it('rotation keeps the old secret working for the grace period, beside the new one', async () => {
      const { client } = await enterpriseWithClient(app, ['orders:read']);
      const operator = await app.operatorToken();
      const rotated = await app.http
        .post(`/v1/admin/api-clients/${client.id}/rotate-secret`)
        .auth(operator, { type: 'bearer' })
        .send({ previous_secret_expires_in: 3600 })
        .expect(200);
      expect(rotated.body.client_secret).not.toBe(client.client_secret);
      expect(rotated.body.active_secrets).toHaveLength(2);
      await app.tokenFor(client.id, client.client_secret);
      await app.tokenFor(client.id, rotated.body.client_secret);

      const again = await app.http
        .post(`/v1/admin/api-clients/${client.id}/rotate-secret`)
        .auth(operator, { type: 'bearer' })
        .send({ previous_secret_expires_in: 0 })
        .expect(200);
      expect(again.body.active_secrets).toHaveLength(1);
      for (const old of [client.client_secret, rotated.body.client_secret]) {
        await app.http
          .post('/v1/oauth/token')
          .send({ grant_type: 'client_credentials', client_id: client.id, client_secret: old })
          .expect(401);
      }
      await app.tokenFor(client.id, again.body.client_secret);
    });

    it('never returns a secret after creation and keeps scopes to the client kind', async () => {
      const enterprise = await createEnterprise(app);
      const operator = await app.operatorToken();
      const created = await createClient(app, { enterprise_id: enterprise.id, scopes: ['orders:read'] });
      const fetched = await app.http
        .get(`/v1/admin/api-clients/${created.id}`)
        .auth(operator, { type: 'bearer' })
        .expect(200);
      expect(fetched.body).not.toHaveProperty('client_secret');
      expect(JSON.stringify(fetched.body)).not.toContain(created.client_secret);

      const adminForTenant = await app.http
        .post('/v1/admin/api-clients')
        .auth(operator, { type: 'bearer' })
        .send({ name: 'x', enterprise_id: enterprise.id, scopes: ['admin'] })
        .expect(422);
      expect(adminForTenant.body.code).toBe('scope_not_allowed');
      const tenantScopeForPlatform = await app.http
        .post('/v1/admin/api-clients')
        .auth(operator, { type: 'bearer' })
        .send({ name: 'x', scopes: ['orders:read'] })
        .expect(422);
      expect(tenantScopeForPlatform.body.code).toBe('scope_not_allowed');
    });

    it('writes nothing when creation fails half-way (unknown enterprise)', async () => {
      const operator = await app.operatorToken();
      const response = await app.http
        .post('/v1/admin/api-clients')
        .auth(operator, { type: 'bearer' })
        .send({ name: 'ghost', enterprise_id: 'ent_00000000000000000000000000', scopes: ['orders:read'] })
        .expect(422);
      expect(response.body.code).toBe('enterprise_not_found');
      const after = await app.dataSource.query('SELECT count(*)::int AS n FROM api_clients WHERE name = $1', ['ghost']);
      expect(after[0].n).toBe(0);
    });

    it('lets the bootstrap operator client from the environment in', async () => {
      const token = await app.tokenFor(TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET);
      expect((jwt.decode(token) as jwt.JwtPayload).scope).toBe('admin');
      await request(app.url).get('/v1/admin/api-clients').auth(token, { type: 'bearer' }).expect(200);
    });
  });
});
