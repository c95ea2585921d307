import { randomInt } from 'node:crypto';
import { createFuliClient, isProblem, type components, type FuliClient, type FuliProblem } from '../sdk';
import { startTestApp, TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET, type TestApp } from './support/app';
import { newCreditCode } from './support/fixtures';
import { ok } from './support/sdk-results';

type Enterprise = components['schemas']['EnterpriseDto'];
type ApiClientWithSecret = components['schemas']['ApiClientWithSecretDto'];

const ENTERPRISE_ID = /^ent_[0-9A-HJKMNP-TV-Z]{26}$/;
const CLIENT_ID = /^cli_[0-9A-HJKMNP-TV-Z]{26}$/;

/** Counts what goes over the wire, and can tamper with the next bearer token (a token the server no longer accepts). */
function recordingFetch() {
  const log = { tokenRequests: 0, unauthorized: 0, spoilNextToken: false };
  const fetch = async (request: Request): Promise<Response> => {
    if (new URL(request.url).pathname === '/v1/oauth/token') log.tokenRequests++;
    else if (log.spoilNextToken && request.headers.has('authorization')) {
      log.spoilNextToken = false;
      request.headers.set('authorization', 'Bearer not-a-valid-token');
    }
    const response = await globalThis.fetch(request);
    if (response.status === 401) log.unauthorized++;
    return response;
  };
  return { log, fetch };
}

function expectProblem(error: unknown, status: number, code: string): FuliProblem {
  expect(isProblem(error)).toBe(true);
  const problem = error as FuliProblem;
  expect(problem).toMatchObject({ status, code, type: `urn:fuli:problem:${code}` });
  expect(typeof problem.request_id).toBe('string');
  return problem;
}

describe('SDK (sdk/index.ts) against the app', () => {
  let app: TestApp;
  let operator: FuliClient;
  let operatorWire: ReturnType<typeof recordingFetch>['log'];

  beforeAll(async () => {
    app = await startTestApp();
    const recorder = recordingFetch();
    operatorWire = recorder.log;
    operator = createFuliClient({
      baseUrl: app.url,
      clientId: TEST_ADMIN_CLIENT_ID,
      clientSecret: TEST_ADMIN_CLIENT_SECRET,
      fetch: recorder.fetch,
    });
  });
  afterAll(async () => {
    await app.close();
  });

  async function createEnterprise(): Promise<Enterprise> {
    const name = `SDK Co ${randomInt(1e9)}`;
    const enterprise = ok(
      await operator.POST('/v1/admin/enterprises', { body: { name, credit_code: newCreditCode() } }),
    );
    expect(enterprise).toMatchObject({ object: 'enterprise', name, status: 'active' });
    expect(enterprise.id).toMatch(ENTERPRISE_ID);
    return enterprise;
  }

  async function createClient(enterpriseId: string): Promise<ApiClientWithSecret> {
    const client = ok(
      await operator.POST('/v1/admin/api-clients', {
        body: { name: 'SDK test client', enterprise_id: enterpriseId, scopes: ['products:read', 'orders:read'] },
      }),
    );
    expect(client.id).toMatch(CLIENT_ID);
    expect(client.enterprise_id).toBe(enterpriseId);
    expect(client.client_secret.length).toBeGreaterThan(20);
    return client;
  }

  it('operator creates enterprises and clients, pages through both lists; the new client reads its enterprise', async () => {
    const enterprises = [await createEnterprise(), await createEnterprise(), await createEnterprise()];
    // One token for all of it: the middleware caches it.
    expect(operatorWire.tokenRequests).toBe(1);

    // Newest first across pages of 2; other suites write to the same database, so walk until ours are all seen.
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const page = ok(
        await operator.GET('/v1/admin/enterprises', { params: { query: { limit: 2, starting_after: cursor } } }),
      );
      expect(page.object).toBe('list');
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((enterprise) => enterprise.id));
      if (enterprises.every((enterprise) => seen.includes(enterprise.id)) || !page.has_more) break;
      expect(page.next_cursor).toBe(page.data[page.data.length - 1].id);
      cursor = page.next_cursor ?? undefined;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort().reverse()).toEqual(seen);
    for (const enterprise of enterprises) expect(seen).toContain(enterprise.id);

    const [own, other] = enterprises;
    const clients = [await createClient(own.id), await createClient(own.id)];
    const first = ok(
      await operator.GET('/v1/admin/api-clients', { params: { query: { enterprise_id: own.id, limit: 1 } } }),
    );
    expect(first).toMatchObject({ object: 'list', has_more: true, next_cursor: clients[1].id });
    expect(first.data.map((client) => client.id)).toEqual([clients[1].id]);
    const second = ok(
      await operator.GET('/v1/admin/api-clients', {
        params: { query: { enterprise_id: own.id, limit: 1, starting_after: first.next_cursor ?? undefined } },
      }),
    );
    expect(second).toMatchObject({ has_more: false, next_cursor: null });
    expect(second.data.map((client) => client.id)).toEqual([clients[0].id]);
    expect(second.data[0]).not.toHaveProperty('client_secret');

    const tenant = createFuliClient({
      baseUrl: app.url,
      clientId: clients[0].id,
      clientSecret: clients[0].client_secret,
    });
    const mine = ok(await tenant.GET('/v1/enterprises/{id}', { params: { path: { id: own.id } } }));
    expect(mine).toMatchObject({ object: 'enterprise', id: own.id, name: own.name, credit_code: own.credit_code });

    // Another tenant's enterprise is a 404, never the object: surfaced as `error`, typed as a problem.
    const foreign = await tenant.GET('/v1/enterprises/{id}', { params: { path: { id: other.id } } });
    expect(foreign.data).toBeUndefined();
    expect(foreign.response.status).toBe(404);
    expect(foreign.response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expectProblem(foreign.error, 404, 'resource_not_found');

    const admin = await tenant.GET('/v1/admin/enterprises');
    expectProblem(admin.error, 403, 'insufficient_scope');
  });

  it('surfaces validation and conflict problems with their code and extra members', async () => {
    const invalid = await operator.POST('/v1/admin/enterprises', { body: { name: '', credit_code: 'nope' } });
    const problem = expectProblem(invalid.error, 400, 'validation_failed');
    expect(problem.errors?.map((error) => error.field)).toEqual(expect.arrayContaining(['name', 'credit_code']));

    const existing = await createEnterprise();
    const duplicate = await operator.POST('/v1/admin/enterprises', {
      body: { name: 'Someone else', credit_code: existing.credit_code },
    });
    expect(expectProblem(duplicate.error, 409, 'enterprise_exists').existing_id).toBe(existing.id);
  });

  it('shares one token request between concurrent calls and renews the token on a 401, once', async () => {
    const { log, fetch } = recordingFetch();
    const client = createFuliClient({
      baseUrl: app.url,
      clientId: TEST_ADMIN_CLIENT_ID,
      clientSecret: TEST_ADMIN_CLIENT_SECRET,
      fetch,
    });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => client.GET('/v1/admin/enterprises', { params: { query: { limit: 1 } } })),
    );
    for (const result of results) expect(result.error).toBeUndefined();
    expect(log.tokenRequests).toBe(1);

    // The server rejects the token: the SDK gets a new one and replays the request (body included) once.
    log.spoilNextToken = true;
    const name = `SDK Retry Co ${randomInt(1e9)}`;
    const created = ok(await client.POST('/v1/admin/enterprises', { body: { name, credit_code: newCreditCode() } }));
    expect(created.name).toBe(name);
    expect(log).toMatchObject({ tokenRequests: 2, unauthorized: 1 });
  });

  it('renews the token shortly before it expires, without a 401', async () => {
    const { log, fetch } = recordingFetch();
    const client = createFuliClient({
      baseUrl: app.url,
      clientId: TEST_ADMIN_CLIENT_ID,
      clientSecret: TEST_ADMIN_CLIENT_SECRET,
      fetch,
    });
    ok(await client.GET('/v1/admin/enterprises', { params: { query: { limit: 1 } } }));
    const realNow = Date.now.bind(Date);
    // 15 minutes later (the default token lifetime) for the SDK and the server alike.
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 900_000);
    try {
      ok(await client.GET('/v1/admin/enterprises', { params: { query: { limit: 1 } } }));
    } finally {
      clock.mockRestore();
    }
    expect(log).toMatchObject({ tokenRequests: 2, unauthorized: 0 });
  });

  it('returns a failed token request as the call’s error', async () => {
    const client = createFuliClient({
      baseUrl: app.url,
      clientId: TEST_ADMIN_CLIENT_ID,
      clientSecret: 'not-the-secret-0123456789',
    });
    const result = await client.GET('/v1/admin/enterprises');
    expect(result.response.status).toBe(401);
    expectProblem(result.error, 401, 'invalid_client');
  });
});
