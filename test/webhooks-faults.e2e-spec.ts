import { Webhook } from 'standardwebhooks';
import { DataCipher } from '../src/common/crypto/data-cipher.service';
import { newId } from '../src/common/ids';
import { secretContext } from '../src/webhooks/webhook-delivery.service';
import { newWebhookSecret } from '../src/webhooks/webhook-signing';
import { startTestApp, type TestApp } from './support/app';
import { createClient, createEnterprise, createProduct, TEST_PURCHASER } from './support/fixtures';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';
import { waitFor } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';
import { startWorkerProcess, workerEnv, type WorkerProcess } from './support/worker-process';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Production-like webhook settings (https only, public addresses only) with the API here and the real worker in
 * a child process: SSRF refusals at registration and again at connect time, and events committed while no
 * worker runs (the worker was killed) delivered once one is back.
 */
describe('webhooks: SSRF protection and worker crashes', () => {
  let database: ScratchDatabase;
  let app: TestApp;
  let receiver: WebhookReceiver;
  let token: string;
  let enterpriseId: string;
  const workers: WorkerProcess[] = [];

  const startWorker = (allowPrivate: boolean) => {
    const worker = startWorkerProcess(
      workerEnv(app.runtime.config, {
        WEBHOOK_ALLOW_PRIVATE_NETWORKS: String(allowPrivate),
        WEBHOOK_REQUIRE_HTTPS: 'false',
        WEBHOOK_RETRY_SCHEDULE_MS: '0,60000',
        WEBHOOK_RELAY_INTERVAL_MS: '50',
      }),
    );
    workers.push(worker);
    return worker;
  };

  /** An endpoint written straight to the table, as if its host had resolved to a public address at registration. */
  async function insertEndpoint(url: string): Promise<{ id: string; secret: string }> {
    const id = newId('webhookEndpoint');
    const secret = newWebhookSecret();
    await app.dataSource.query(
      `INSERT INTO webhook_endpoints (id, enterprise_id, url, event_types, status, secret_sealed)
       VALUES ($1, $2, $3, '{*}', 'enabled', $4)`,
      [id, enterpriseId, url, app.app.get(DataCipher).encrypt(secret, secretContext(id))],
    );
    return { id, secret };
  }

  beforeAll(async () => {
    database = await createScratchDatabase('webhook_faults');
    app = await startTestApp(
      { DATABASE_URL: database.url, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false', WEBHOOK_REQUIRE_HTTPS: 'true' },
      { worker: false },
    );
    receiver = await WebhookReceiver.start();
    const enterprise = await createEnterprise(app);
    enterpriseId = enterprise.id;
    const client = await createClient(app, {
      enterprise_id: enterprise.id,
      scopes: ['orders:write', 'webhooks:manage', 'events:read'],
    });
    token = await app.tokenFor(client.id, client.client_secret);
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await app?.close();
    await receiver?.close();
    await database?.drop();
  });

  it('refuses non-https and private, loopback, link-local and metadata addresses at registration', async () => {
    const cases: Array<[string, string]> = [
      ['http://203.0.113.10/hooks', 'webhook_url_not_https'],
      ['https://127.0.0.1/hooks', 'webhook_url_private_address'],
      ['https://localhost/hooks', 'webhook_url_private_address'],
      ['https://[::1]/hooks', 'webhook_url_private_address'],
      ['https://10.20.30.40/hooks', 'webhook_url_private_address'],
      ['https://192.168.0.1/hooks', 'webhook_url_private_address'],
      ['https://169.254.169.254/latest/meta-data/', 'webhook_url_private_address'],
      ['https://[fd00:ec2::254]/', 'webhook_url_private_address'],
      ['https://2130706433/hooks', 'webhook_url_private_address'],
    ];
    for (const [url, code] of cases) {
      const response = await app.http
        .post('/v1/webhook-endpoints')
        .auth(token, { type: 'bearer' })
        .send({ url, event_types: ['*'] })
        .expect(422);
      expect(response.body).toMatchObject({ code });
    }
    const [{ n }] = await app.dataSource.query<Array<{ n: number }>>(
      'SELECT count(*)::int AS n FROM webhook_endpoints',
    );
    expect(n).toBe(0);
  });

  it('refuses a private address again at connect time (DNS rebinding), sending nothing', async () => {
    startWorker(false);
    const byAddress = await insertEndpoint(receiver.url('/rebound'));
    const byName = await insertEndpoint(receiver.url('/rebound-name').replace('127.0.0.1', 'localhost'));
    for (const endpoint of [byAddress, byName]) {
      await app.http.post(`/v1/webhook-endpoints/${endpoint.id}/test`).auth(token, { type: 'bearer' }).expect(202);
    }
    for (const endpoint of [byAddress, byName]) {
      const attempts = await waitFor(
        async () =>
          (
            await app.http
              .get(`/v1/webhook-endpoints/${endpoint.id}/attempts`)
              .auth(token, { type: 'bearer' })
              .expect(200)
          ).body.data as Array<{ error: string | null; response_status: number | null }>,
        (list) => list.length > 0,
      );
      expect(attempts[0]).toMatchObject({ error: 'address_blocked', response_status: null });
    }
    expect(receiver.received).toEqual([]);
  });

  it('delivers events committed while the worker was dead once a worker is back', async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await app.dataSource.query("UPDATE webhook_endpoints SET status = 'disabled'");
    const endpoint = await insertEndpoint(receiver.url('/after-crash'));

    const product = await createProduct(app);
    const placed = await app.http
      .post('/v1/orders')
      .auth(token, { type: 'bearer' })
      .send({
        po_number: 'CRASH-1',
        payment_method: 'bank_transfer',
        purchaser: TEST_PURCHASER,
        lines: [{ product_id: product.id, face_value: 10_000, quantity: 1 }],
      })
      .expect(201);
    // Committed, and nobody to relay it.
    await sleep(500);
    const [pending] = await app.dataSource.query<Array<{ id: string; relayed_at: Date | null }>>(
      "SELECT id, relayed_at FROM events WHERE type = 'order.created' AND data->>'order_id' = $1",
      [placed.body.id],
    );
    expect(pending.relayed_at).toBeNull();

    startWorker(true);
    const [delivered] = await waitFor(
      () => receiver.at('/after-crash'),
      (requests) => requests.length === 1,
    );
    const payload = new Webhook(endpoint.secret).verify(delivered.body, {
      'webhook-id': String(delivered.headers['webhook-id']),
      'webhook-timestamp': String(delivered.headers['webhook-timestamp']),
      'webhook-signature': String(delivered.headers['webhook-signature']),
    });
    expect(payload).toMatchObject({ id: pending.id, type: 'order.created', data: { order_id: placed.body.id } });
  });
});
