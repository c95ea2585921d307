import { verifyWebhook, WebhookVerificationError } from '../sdk';
import type { Scope } from '../src/common/access/scopes';
import { startTestApp, type TestApp } from './support/app';
import {
  createClient,
  createEnterprise,
  createProduct,
  recordTransfer,
  TEST_PURCHASER,
  type EnterpriseFixture,
} from './support/fixtures';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';
import { waitFor, type PollOptions } from './support/wait';
import { WebhookReceiver, type ReceivedWebhook } from './support/webhook-receiver';

const SCOPES: Scope[] = ['orders:write', 'orders:read', 'webhooks:manage', 'events:read'];
/** Five attempts 200 ms apart: the retry schedule, shrunk. */
const SCHEDULE_MS = '0,200,200,200,200';
const TIMEOUT_MS = 1_000;

interface Endpoint {
  id: string;
  secret: string;
  url: string;
  status: string;
  disabled_reason: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const POLL: PollOptions = { timeoutMs: 20_000, intervalMs: 50 };

/** Verifies a received request as a receiver would, with the SDK helper (standardwebhooks underneath). */
function verify(secret: string, request: ReceivedWebhook): Record<string, unknown> {
  return verifyWebhook(secret, request.body, request.headers);
}

/**
 * Webhooks end to end: a real receiver on 127.0.0.1, the in-process worker, retry schedules shrunk to
 * milliseconds. On a database of its own, so that no other test file's worker (with the default 3-day schedule)
 * runs these deliveries.
 */
describe('webhooks', () => {
  let database: ScratchDatabase;
  let app: TestApp;
  let receiver: WebhookReceiver;
  let tenant: { enterprise: EnterpriseFixture; token: string };
  let path = 0;

  const as = (token: string) => ({
    get: (url: string) => app.http.get(url).auth(token, { type: 'bearer' }),
    post: (url: string, body: object = {}) => app.http.post(url).auth(token, { type: 'bearer' }).send(body),
    patch: (url: string, body: object) => app.http.patch(url).auth(token, { type: 'bearer' }).send(body),
    delete: (url: string) => app.http.delete(url).auth(token, { type: 'bearer' }),
  });
  const api = () => as(tenant.token);

  async function newTenant(scopes: Scope[] = SCOPES) {
    const enterprise = await createEnterprise(app);
    const client = await createClient(app, { enterprise_id: enterprise.id, scopes });
    return { enterprise, token: await app.tokenFor(client.id, client.client_secret) };
  }

  /** An endpoint of the current tenant on a fresh receiver path. */
  async function register(eventTypes: string[] = ['*'], token = tenant.token): Promise<Endpoint & { path: string }> {
    const receiverPath = `/hook-${++path}`;
    const response = await as(token)
      .post('/v1/webhook-endpoints', { url: receiver.url(receiverPath), event_types: eventTypes })
      .expect(201);
    return { ...(response.body as Endpoint), path: receiverPath };
  }

  async function ping(endpoint: { id: string }): Promise<{ id: string; event_id: string }> {
    return (await api().post(`/v1/webhook-endpoints/${endpoint.id}/test`).expect(202)).body as {
      id: string;
      event_id: string;
    };
  }

  async function attempts(endpointId: string, token = tenant.token) {
    const response = await as(token).get(`/v1/webhook-endpoints/${endpointId}/attempts?limit=100`).expect(200);
    return (response.body as { data: Array<Record<string, unknown>> }).data;
  }

  beforeAll(async () => {
    database = await createScratchDatabase('webhooks');
    app = await startTestApp({
      DATABASE_URL: database.url,
      WEBHOOK_RETRY_SCHEDULE_MS: SCHEDULE_MS,
      WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
      WEBHOOK_RELAY_INTERVAL_MS: '50',
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    });
    receiver = await WebhookReceiver.start();
    tenant = await newTenant();
  });

  afterAll(async () => {
    await app?.close();
    await receiver?.close();
    await database?.drop();
  });

  describe('endpoints', () => {
    it('registers an endpoint with a secret shown once, and lists, changes and deletes it', async () => {
      const created = await register(['order.paid', 'order.issued']);
      expect(created).toMatchObject({
        object: 'webhook_endpoint',
        id: expect.stringMatching(/^whe_/),
        url: receiver.url(created.path),
        event_types: ['order.issued', 'order.paid'],
        status: 'enabled',
        disabled_reason: null,
        secret: expect.stringMatching(/^whsec_/),
      });
      const shown = (await api().get(`/v1/webhook-endpoints/${created.id}`).expect(200)).body as Endpoint;
      expect(shown).not.toHaveProperty('secret');
      expect(JSON.stringify((await api().get('/v1/webhook-endpoints').expect(200)).body)).not.toContain(created.secret);

      const changed = await api()
        .patch(`/v1/webhook-endpoints/${created.id}`, { event_types: ['*'], description: 'ERP', enabled: false })
        .expect(200);
      expect(changed.body).toMatchObject({
        event_types: ['*'],
        description: 'ERP',
        status: 'disabled',
        disabled_reason: 'by_client',
      });
      await api().post(`/v1/webhook-endpoints/${created.id}/test`).expect(409);

      await api().delete(`/v1/webhook-endpoints/${created.id}`).expect(200, {
        object: 'webhook_endpoint',
        id: created.id,
        deleted: true,
      });
      await api().get(`/v1/webhook-endpoints/${created.id}`).expect(404);
      const list = (await api().get('/v1/webhook-endpoints').expect(200)).body as { data: Endpoint[] };
      expect(list.data.map((endpoint) => endpoint.id)).not.toContain(created.id);
    });

    it('refuses bad input, each with its code, and creates nothing', async () => {
      const post = (body: object) => api().post('/v1/webhook-endpoints', body);
      const url = receiver.url('/never');
      const cases: Array<[object, number, string]> = [
        [{ url, event_types: ['order.paid', 'card.teleported'] }, 422, 'unknown_event_type'],
        [{ url, event_types: ['ping'] }, 422, 'unknown_event_type'],
        [{ url, event_types: ['*', 'order.paid'] }, 422, 'invalid_event_types'],
        [{ url, event_types: [] }, 400, 'validation_failed'],
        [{ url: 'erp.example.com/hooks', event_types: ['*'] }, 422, 'invalid_webhook_url'],
        [{ url: 'ftp://127.0.0.1/hooks', event_types: ['*'] }, 422, 'invalid_webhook_url'],
        [{ url: 'http://169.254.169.254/latest/meta-data/', event_types: ['*'] }, 422, 'webhook_url_private_address'],
        [{ url: 'https://no-such-host.invalid/hooks', event_types: ['*'] }, 422, 'webhook_url_unresolvable'],
        [{ url, event_types: ['*'], secret: 'whsec_mine' }, 400, 'validation_failed'],
      ];
      const before = (await api().get('/v1/webhook-endpoints?limit=100').expect(200)).body.data.length as number;
      for (const [body, status, code] of cases) {
        const response = await post(body).expect(status);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(response.body).toMatchObject({ code });
      }
      expect((await api().get('/v1/webhook-endpoints?limit=100').expect(200)).body.data).toHaveLength(before);
    });

    it("hides another tenant's endpoints and events (404), and needs the webhooks scope (403)", async () => {
      const mine = await register();
      const delivery = await ping(mine);
      const other = await newTenant();
      await as(other.token).get(`/v1/webhook-endpoints/${mine.id}`).expect(404);
      await as(other.token).patch(`/v1/webhook-endpoints/${mine.id}`, { enabled: false }).expect(404);
      await as(other.token).delete(`/v1/webhook-endpoints/${mine.id}`).expect(404);
      await as(other.token).get(`/v1/webhook-endpoints/${mine.id}/attempts`).expect(404);
      await as(other.token).get(`/v1/events/${delivery.event_id}`).expect(404);
      await as(other.token).post(`/v1/events/${delivery.event_id}/redeliver`).expect(404);
      expect(((await as(other.token).get('/v1/events').expect(200)).body as { data: unknown[] }).data).toEqual([]);

      const readOnly = await newTenant(['orders:read']);
      await as(readOnly.token).get('/v1/webhook-endpoints').expect(403);
      await as(readOnly.token).get('/v1/events').expect(403);
    });
  });

  describe('delivery', () => {
    it("delivers an order's events from placement to issuance, signed, in order, without codes", async () => {
      const buyer = await newTenant([...SCOPES, 'cards:read']);
      const endpoint = await register(['*'], buyer.token);
      const product = await createProduct(app);
      const placed = await as(buyer.token)
        .post('/v1/orders', {
          po_number: 'WEBHOOK-1',
          payment_method: 'bank_transfer',
          purchaser: TEST_PURCHASER,
          lines: [{ product_id: product.id, face_value: 10_000, quantity: 5 }],
        })
        .expect(201);
      const order = placed.body as { id: string; payable: number };
      await recordTransfer(app, await app.operatorToken(), {
        enterprise_id: buyer.enterprise.id,
        payer_account_name: buyer.enterprise.name,
        amount: order.payable,
        kind: 'order_transfer',
        order_id: order.id,
      }).expect(201);

      const types = ['order.created', 'payment.received', 'order.paid', 'batch.completed', 'order.issued'];
      const received = await waitFor(
        () => receiver.at(endpoint.path),
        (requests) => requests.length >= types.length,
        POLL,
      );
      const payloads = received.map((request) => verify(endpoint.secret, request));
      expect(payloads.map((payload) => payload.type).sort()).toEqual([...types].sort());
      for (const [i, payload] of payloads.entries()) {
        expect(payload).toMatchObject({
          object: 'event',
          id: received[i].headers['webhook-id'],
          enterprise_id: buyer.enterprise.id,
          schema_version: 1,
        });
        expect(payload.data).toMatchObject({});
      }
      const issued = payloads.find((payload) => payload.type === 'order.issued');
      expect(issued?.data).toMatchObject({ order_id: order.id, cards: 5 });

      // The events API shows the same immutable objects the receiver got.
      const listed = (await as(buyer.token).get('/v1/events?limit=100').expect(200)).body as {
        data: Array<Record<string, unknown>>;
      };
      expect(listed.data.map((event) => event.id).sort()).toEqual(payloads.map((payload) => payload.id).sort());
      const paidOnly = await as(buyer.token).get('/v1/events?type=order.paid').expect(200);
      expect(paidOnly.body.data).toHaveLength(1);
      const one = await as(buyer.token)
        .get(`/v1/events/${String(issued?.id)}`)
        .expect(200);
      expect(one.body).toEqual(issued);

      // Codes never leave in a webhook: no code, PIN or secret field in any payload.
      const everything = received.map((request) => request.body).join('\n');
      expect(everything).not.toMatch(/"(code|pin|secret)"/);
    });

    it('retries a receiver that fails three times and delivers on the fourth attempt, all four recorded', async () => {
      const endpoint = await register();
      receiver.on(endpoint.path, (n) => (n <= 3 ? { status: 500, body: `boom ${n}` } : { status: 204 }));
      const delivery = await ping(endpoint);

      const recorded = await waitFor(
        () => attempts(endpoint.id),
        (list) => list.some((attempt) => attempt.succeeded === true),
        POLL,
      );
      expect(recorded.map((attempt) => [attempt.attempt, attempt.response_status, attempt.succeeded])).toEqual([
        [4, 204, true],
        [3, 500, false],
        [2, 500, false],
        [1, 500, false],
      ]);
      expect(recorded[3]).toMatchObject({
        delivery_id: delivery.id,
        event_id: delivery.event_id,
        // The receiver is on loopback: what a private-network host answers is never shown to the tenant.
        response_body: null,
        error: null,
        next_attempt_at: expect.any(String),
      });
      expect(recorded[0].next_attempt_at).toBeNull();
      const requests = receiver.at(endpoint.path);
      expect(requests).toHaveLength(4);
      // The same message every time: one webhook-id, one body; a fresh timestamp and signature per attempt.
      expect(new Set(requests.map((request) => request.headers['webhook-id']))).toEqual(new Set([delivery.event_id]));
      expect(new Set(requests.map((request) => request.body)).size).toBe(1);
      for (const request of requests) verify(endpoint.secret, request);
      const tampered = { ...requests[0], body: requests[0].body.replace('"ping"', '"order.paid"') };
      expect(() => verify(endpoint.secret, tampered)).toThrow(WebhookVerificationError);
      // ~200 ms apart, as the (shrunk) schedule says.
      for (let i = 1; i < requests.length; i++) {
        expect(requests[i].receivedAt - requests[i - 1].receivedAt).toBeGreaterThanOrEqual(150);
      }
      const endpointNow = (await api().get(`/v1/webhook-endpoints/${endpoint.id}`).expect(200)).body;
      expect(endpointNow).toMatchObject({
        status: 'enabled',
        failing_since: null,
        last_success_at: expect.any(String),
      });
    });

    it('honours Retry-After on 429 and 503, and gives up when the schedule runs out', async () => {
      const slow = await register();
      receiver.on(slow.path, (n) =>
        n === 1
          ? { status: 429, headers: { 'retry-after': '1' } }
          : n === 2
            ? { status: 503, headers: { 'retry-after': '1' } }
            : { status: 200 },
      );
      await ping(slow);
      await waitFor(
        () => receiver.at(slow.path),
        (requests) => requests.length === 3,
        { ...POLL, timeoutMs: 10_000 },
      );
      const [first, second, third] = receiver.at(slow.path);
      expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(950);
      expect(third.receivedAt - second.receivedAt).toBeGreaterThanOrEqual(950);

      const broken = await register();
      receiver.on(broken.path, () => ({ status: 500 }));
      const delivery = await ping(broken);
      const recorded = await waitFor(
        () => attempts(broken.id),
        (list) => list.length === 5 && list[0].next_attempt_at === null,
        POLL,
      );
      expect(recorded.every((attempt) => attempt.succeeded === false)).toBe(true);
      await sleep(500);
      expect(receiver.at(broken.path)).toHaveLength(5);
      const [row] = await app.dataSource.query<Array<{ status: string; failure_reason: string }>>(
        'SELECT status, failure_reason FROM webhook_deliveries WHERE id = $1',
        [delivery.id],
      );
      expect(row).toEqual({ status: 'failed', failure_reason: 'retries_exhausted' });
    });

    it('counts a receiver that does not answer in time as a failed attempt (timeout)', async () => {
      const endpoint = await register();
      receiver.on(endpoint.path, (n) => (n === 1 ? { status: 200, delayMs: TIMEOUT_MS + 1_000 } : { status: 200 }));
      await ping(endpoint);
      const recorded = await waitFor(
        () => attempts(endpoint.id),
        (list) => list.some((attempt) => attempt.succeeded === true),
        POLL,
      );
      expect(recorded.map((attempt) => [attempt.attempt, attempt.error, attempt.response_status])).toEqual([
        [2, null, 200],
        [1, 'timeout', null],
      ]);
      expect(recorded[1].latency_ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    });

    it('disables an endpoint that answers 410 Gone, and records endpoint.disabled', async () => {
      const gone = await register();
      const watcher = await register(['endpoint.disabled']);
      receiver.on(gone.path, () => ({ status: 410 }));
      await ping(gone);
      const disabled = await waitFor(
        async () => (await api().get(`/v1/webhook-endpoints/${gone.id}`).expect(200)).body as Endpoint,
        (endpoint) => endpoint.status === 'disabled',
        POLL,
      );
      expect(disabled.disabled_reason).toBe('gone');
      expect(await attempts(gone.id)).toHaveLength(1);

      const notice = await waitFor(
        () => receiver.at(watcher.path),
        (requests) => requests.length === 1,
        POLL,
      );
      expect(verify(watcher.secret, notice[0])).toMatchObject({
        type: 'endpoint.disabled',
        data: { endpoint_id: gone.id, reason: 'gone' },
      });
      // Disabled: no more deliveries until the client enables it again.
      await api().post(`/v1/webhook-endpoints/${gone.id}/test`).expect(409);
      await api().patch(`/v1/webhook-endpoints/${gone.id}`, { enabled: true }).expect(200);
      receiver.on(gone.path, () => ({ status: 200 }));
      await ping(gone);
      await waitFor(
        () => receiver.at(gone.path),
        (requests) => requests.length === 2,
        POLL,
      );
    });

    it('disables an endpoint that has failed without a success for longer than the limit (5 days)', async () => {
      const endpoint = await register();
      receiver.on(endpoint.path, () => ({ status: 500 }));
      await app.dataSource.query(
        "UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute' WHERE id = $1",
        [endpoint.id],
      );
      await ping(endpoint);
      const disabled = await waitFor(
        async () => (await api().get(`/v1/webhook-endpoints/${endpoint.id}`).expect(200)).body as Endpoint,
        (shown) => shown.status === 'disabled',
        POLL,
      );
      expect(disabled.disabled_reason).toBe('failing');
      const events = await api().get('/v1/events?type=endpoint.disabled&limit=100').expect(200);
      expect(events.body.data.map((event: { data: { endpoint_id: string } }) => event.data.endpoint_id)).toContain(
        endpoint.id,
      );
    });

    it('signs with both secrets during a rotation, and only the new one after the grace period', async () => {
      const endpoint = await register();
      const rotated = await api()
        .post(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { previous_secret_expires_in: 3600 })
        .expect(200);
      const next = rotated.body as Endpoint & { previous_secret_expires_at: string };
      expect(next.secret).toMatch(/^whsec_/);
      expect(next.secret).not.toBe(endpoint.secret);
      expect(Date.parse(next.previous_secret_expires_at) - Date.now()).toBeGreaterThan(3500_000);

      await ping(endpoint);
      const [during] = await waitFor(
        () => receiver.at(endpoint.path),
        (requests) => requests.length === 1,
        POLL,
      );
      expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
      verify(next.secret, during);
      verify(endpoint.secret, during);

      const final = await api()
        .post(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { previous_secret_expires_in: 0 })
        .expect(200);
      await ping(endpoint);
      const after = (
        await waitFor(
          () => receiver.at(endpoint.path),
          (requests) => requests.length === 2,
          POLL,
        )
      )[1];
      expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
      verify((final.body as Endpoint).secret, after);
      expect(() => verify(next.secret, after)).toThrow();
    });

    it('redelivers one event with the same webhook-id, to one endpoint or to every subscribed one', async () => {
      const first = await register(['endpoint.disabled']);
      const second = await register(['*']);
      const delivery = await ping(first);
      await waitFor(
        () => receiver.at(first.path),
        (requests) => requests.length === 1,
        POLL,
      );

      const again = await api()
        .post(`/v1/events/${delivery.event_id}/redeliver`, { endpoint_id: second.id })
        .expect(202);
      expect(again.body.data).toEqual([
        expect.objectContaining({ event_id: delivery.event_id, endpoint_id: second.id, status: 'pending' }),
      ]);
      const [copy] = await waitFor(
        () => receiver.at(second.path),
        (requests) => requests.length === 1,
        POLL,
      );
      expect(copy.headers['webhook-id']).toBe(delivery.event_id);
      expect(copy.body).toBe(receiver.at(first.path)[0].body);

      // Without endpoint_id a ping goes back to the endpoint it was sent to.
      await api().post(`/v1/events/${delivery.event_id}/redeliver`).expect(202);
      await waitFor(
        () => receiver.at(first.path),
        (requests) => requests.length === 2,
        POLL,
      );
      // The receiver has answered; the attempt is recorded right after that.
      const recorded = await waitFor(
        () => attempts(first.id),
        (list) => list.length === 2,
        POLL,
      );
      expect(recorded.map((attempt) => attempt.attempt)).toEqual([2, 1]);
    });

    it('recovers every failed delivery since a time once the receiver is back', async () => {
      const endpoint = await register();
      receiver.on(endpoint.path, () => ({ status: 502 }));
      const since = new Date().toISOString();
      const deliveries = [await ping(endpoint), await ping(endpoint), await ping(endpoint)];
      await waitFor(
        async () =>
          await app.dataSource.query<Array<{ n: number }>>(
            "SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'failed'",
            [endpoint.id],
          ),
        ([row]) => row.n === 3,
        POLL,
      );
      receiver.on(endpoint.path, () => ({ status: 200 }));
      const recoveredAt = Date.now();
      const recovery = await api().post(`/v1/webhook-endpoints/${endpoint.id}/recover`, { since }).expect(202);
      expect(recovery.body).toEqual({
        object: 'webhook_recovery',
        endpoint_id: endpoint.id,
        since,
        deliveries_requeued: 3,
      });
      const replayed = await waitFor(
        () => receiver.at(endpoint.path).filter((request) => request.receivedAt >= recoveredAt),
        (requests) => requests.length === 3,
        POLL,
      );
      expect(new Set(replayed.map((request) => request.headers['webhook-id']))).toEqual(
        new Set(deliveries.map((delivery) => delivery.event_id)),
      );
      // The receiver has answered; the deliveries are marked right after that.
      const delivered = await waitFor(
        () =>
          app.dataSource.query<Array<{ id: string }>>(
            "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'delivered' ORDER BY id",
            [endpoint.id],
          ),
        (rows) => rows.length === 3,
        POLL,
      );
      expect(delivered.map((row) => row.id)).toEqual(deliveries.map((delivery) => delivery.id).sort());
      // A fresh schedule: attempt 6 (after the five failed ones) is the one that succeeded.
      const recorded = await attempts(endpoint.id);
      expect(recorded.filter((attempt) => attempt.succeeded).map((attempt) => attempt.attempt)).toEqual([6, 6, 6]);

      await api()
        .post(`/v1/webhook-endpoints/${endpoint.id}/recover`, { since: '2020-01-01T00:00:00Z' })
        .expect(422)
        .expect((response) => expect(response.body.code).toBe('recovery_window_exceeded'));
    });

    it('enqueues a delivery whose job was lost (crash between commit and enqueue) from the sweep', async () => {
      const endpoint = await register();
      const delivery = await ping(endpoint);
      await waitFor(
        () => receiver.at(endpoint.path),
        (requests) => requests.length === 1,
        POLL,
      );
      // A committed, due delivery with no job: what a crash right after the relay's commit leaves behind.
      await app.dataSource.query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now() - interval '1 minute' WHERE id = $1",
        [delivery.id],
      );
      await waitFor(
        () => receiver.at(endpoint.path),
        (requests) => requests.length === 2,
        { ...POLL, timeoutMs: 40_000 },
      );
    });
  });

  it('reports deliveries, failures and the backlog in /metrics', async () => {
    const metrics = await app.metrics.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^webhook_attempts_total\{result="success"\} [1-9]\d*$/m);
    expect(metrics.text).toMatch(/^webhook_attempts_total\{result="failure"\} [1-9]\d*$/m);
    expect(metrics.text).toMatch(/^webhook_deliveries_failed_total [1-9]\d*$/m);
    expect(metrics.text).toMatch(/^webhook_deliveries_pending\{state="due"\} \d+$/m);
    expect(metrics.text).toMatch(/^webhook_delivery_lag_seconds_count [1-9]\d*$/m);
  });
});
