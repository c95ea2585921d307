/**
 * The SDK's own behaviour against a local HTTP server that plays the API: retries (which requests, on what, how
 * long apart, Retry-After), Idempotency-Keys kept across retries, timeouts and paginate().
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createFuliClient, FuliApiError, FuliTimeoutError, paginate, type FuliClient } from './index';
import { backoffMs, retryAfterMs } from './retry';

interface Seen {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  body: string;
  at: number;
}

type Handler = (request: IncomingMessage, response: ServerResponse, seen: Seen) => void;

const TOKEN = { access_token: 'token-1', token_type: 'Bearer', expires_in: 900, scope: 'admin' };

function problem(response: ServerResponse, status: number, code: string, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
  response.end(JSON.stringify({ type: `urn:fuli:problem:${code}`, title: 'x', status, detail: code, code }));
}

function json(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

describe('@fuli/sdk client behaviour', () => {
  let server: Server;
  let baseUrl: string;
  let seen: Seen[];
  let handler: Handler;

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const url = new URL(request.url ?? '/', 'http://x');
        if (url.pathname === '/v1/oauth/token') return json(response, 200, TOKEN);
        const entry: Seen = {
          method: request.method ?? '',
          path: `${url.pathname}${url.search}`,
          idempotencyKey: request.headers['idempotency-key'] as string | undefined,
          body,
          at: Date.now(),
        };
        seen.push(entry);
        handler(request, response, entry);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    seen = [];
  });

  function client(retry: Parameters<typeof createFuliClient>[0]['retry'] = {}): FuliClient {
    return createFuliClient({
      baseUrl,
      clientId: 'cli_test',
      clientSecret: 'secret',
      retry: { baseDelayMs: 20, maxDelayMs: 100, ...retry },
    });
  }

  /** Answers the first `failures` requests with `fail`, then 200 with `{ id }`. */
  function failingThen(failures: number, fail: (response: ServerResponse) => void): void {
    handler = (_request, response) => {
      if (seen.length <= failures) return fail(response);
      json(response, 200, { object: 'enterprise', id: 'ent_1' });
    };
  }

  it('retries a GET on 503 and 429 with backoff, then returns the success', async () => {
    let turn = 0;
    failingThen(2, (response) => problem(response, turn++ === 0 ? 503 : 429, 'service_unavailable'));
    const { data, error } = await client().GET('/v1/enterprises/{id}', { params: { path: { id: 'ent_1' } } });
    expect(error).toBeUndefined();
    expect(data).toMatchObject({ id: 'ent_1' });
    expect(seen).toHaveLength(3);
    // Backoff between attempts: at least half of each step (20 ms, then 40 ms).
    expect(seen[1].at - seen[0].at).toBeGreaterThanOrEqual(9);
    expect(seen[2].at - seen[1].at).toBeGreaterThanOrEqual(19);
  });

  it('gives up after maxRetries and returns the last problem', async () => {
    failingThen(10, (response) => problem(response, 503, 'service_unavailable'));
    const result = await client({ maxRetries: 2 }).GET('/v1/enterprises/{id}', { params: { path: { id: 'x' } } });
    expect(result.response.status).toBe(503);
    expect(result.error).toMatchObject({ code: 'service_unavailable' });
    expect(seen).toHaveLength(3);
  });

  it('waits as long as Retry-After says', async () => {
    failingThen(1, (response) => problem(response, 429, 'rate_limited', { 'retry-after': '1' }));
    const { data } = await client().GET('/v1/enterprises/{id}', { params: { path: { id: 'x' } } });
    expect(data).toBeDefined();
    expect(seen[1].at - seen[0].at).toBeGreaterThanOrEqual(950);
  });

  it('returns at once when Retry-After is longer than it will wait', async () => {
    failingThen(1, (response) => problem(response, 429, 'rate_limited', { 'retry-after': '3600' }));
    const result = await client().GET('/v1/enterprises/{id}', { params: { path: { id: 'x' } } });
    expect(result.response.status).toBe(429);
    expect(seen).toHaveLength(1);
  });

  it('does not retry other errors, nor a POST that carries no Idempotency-Key', async () => {
    failingThen(10, (response) => problem(response, 500, 'internal_error'));
    await client().GET('/v1/enterprises/{id}', { params: { path: { id: 'x' } } });
    expect(seen).toHaveLength(1);

    seen = [];
    failingThen(10, (response) => problem(response, 503, 'service_unavailable'));
    // POST /v1/webhook-endpoints/{id}/test takes no Idempotency-Key: sending it twice would send two test events.
    await client().POST('/v1/webhook-endpoints/{id}/test', { params: { path: { id: 'whe_1' } } });
    expect(seen).toHaveLength(1);
    expect(seen[0].idempotencyKey).toBeUndefined();
  });

  it('gives a creating POST an Idempotency-Key and sends the same key and body on every retry', async () => {
    failingThen(2, (response) => problem(response, 503, 'service_unavailable'));
    const body = { name: 'Acme', credit_code: '91310000MA1FL8DM0X' };
    const { data } = await client().POST('/v1/admin/enterprises', { body });
    expect(data).toBeDefined();
    expect(seen).toHaveLength(3);
    const [first, ...retries] = seen;
    expect(first.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    for (const retry of retries) {
      expect(retry.idempotencyKey).toBe(first.idempotencyKey);
      expect(JSON.parse(retry.body)).toEqual(body);
    }

    // Each call has its own key; a key the caller sets is kept.
    seen = [];
    failingThen(0, () => undefined);
    await client().POST('/v1/admin/enterprises', { body });
    await client().POST('/v1/admin/enterprises', { body, params: { header: { 'Idempotency-Key': 'mine-1' } } });
    expect(seen[0].idempotencyKey).not.toBe(first.idempotencyKey);
    expect(seen[1].idempotencyKey).toBe('mine-1');
  });

  it('retries a network error (the connection dropped without an answer)', async () => {
    failingThen(1, (response) => response.socket?.destroy());
    const { data } = await client().GET('/v1/enterprises/{id}', { params: { path: { id: 'x' } } });
    expect(data).toBeDefined();
    expect(seen).toHaveLength(2);
  });

  it('times out an attempt, retries it, and throws FuliTimeoutError when none answers in time', async () => {
    // Never answered: each attempt runs into the timeout.
    handler = () => undefined;
    const slow = client({ timeoutMs: 100, maxRetries: 1 });
    const started = Date.now();
    await expect(slow.GET('/v1/enterprises/{id}', { params: { path: { id: 'x' } } })).rejects.toBeInstanceOf(
      FuliTimeoutError,
    );
    expect(seen).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);

    // A slow answer within the timeout is fine.
    seen = [];
    handler = (_request, response) => setTimeout(() => json(response, 200, { id: 'ent_1' }), 30);
    const { data } = await slow.GET('/v1/enterprises/{id}', { params: { path: { id: 'x' } } });
    expect(data).toMatchObject({ id: 'ent_1' });
  });

  it('paginate() walks every page with the cursor and throws the problem of a failed page', async () => {
    const items = Array.from({ length: 5 }, (_, index) => ({ id: `ent_${index}` }));
    handler = (request, response) => {
      const url = new URL(request.url ?? '/', 'http://x');
      const after = url.searchParams.get('starting_after');
      const start = after ? items.findIndex((item) => item.id === after) + 1 : 0;
      const page = items.slice(start, start + 2);
      const hasMore = start + 2 < items.length;
      json(response, 200, {
        object: 'list',
        data: page,
        has_more: hasMore,
        next_cursor: hasMore ? page[page.length - 1].id : null,
      });
    };
    const fuli = client();
    const ids: string[] = [];
    for await (const enterprise of paginate((starting_after) =>
      fuli.GET('/v1/admin/enterprises', { params: { query: { limit: 2, starting_after } } }),
    )) {
      ids.push(enterprise.id);
    }
    expect(ids).toEqual(items.map((item) => item.id));
    expect(seen.map((entry) => entry.path)).toEqual([
      '/v1/admin/enterprises?limit=2',
      '/v1/admin/enterprises?limit=2&starting_after=ent_1',
      '/v1/admin/enterprises?limit=2&starting_after=ent_3',
    ]);

    handler = (_request, response) => problem(response, 403, 'insufficient_scope');
    const walk = async () => {
      for await (const enterprise of paginate((starting_after) =>
        fuli.GET('/v1/admin/enterprises', { params: { query: { starting_after } } }),
      ))
        void enterprise;
    };
    await expect(walk()).rejects.toMatchObject({
      name: 'FuliApiError',
      status: 403,
      problem: { code: 'insufficient_scope' },
    });
    await expect(walk()).rejects.toBeInstanceOf(FuliApiError);
  });

  it('reads Retry-After as seconds or as a date, and backs off exponentially within bounds', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const headers = (value: string) => new Response(null, { headers: { 'retry-after': value } });
    expect(retryAfterMs(headers('7'), now)).toBe(7000);
    expect(retryAfterMs(headers('Thu, 01 Jan 2026 00:00:05 GMT'), now)).toBe(5000);
    expect(retryAfterMs(headers('soon'), now)).toBeUndefined();
    expect(retryAfterMs(new Response(null), now)).toBeUndefined();
    expect(backoffMs(0, 500, 8000, () => 0)).toBe(250);
    expect(backoffMs(0, 500, 8000, () => 1)).toBe(500);
    expect(backoffMs(3, 500, 8000, () => 1)).toBe(4000);
    expect(backoffMs(10, 500, 8000, () => 1)).toBe(8000);
  });

  it('is versioned as the API it was generated from', () => {
    const sdk = JSON.parse(readFileSync(join(__dirname, 'package.json'), 'utf8')) as { version: string };
    const api = JSON.parse(readFileSync(join(__dirname, '..', 'openapi', 'openapi.json'), 'utf8')) as {
      info: { version: string };
    };
    expect(sdk.version).toBe(api.info.version);
  });
});
