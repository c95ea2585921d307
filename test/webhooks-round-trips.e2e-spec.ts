import { newId } from '../src/common/ids';
import { DELIVERY_BATCH, WebhookDeliveryService } from '../src/webhooks/webhook-delivery.service';
import { startTestApp, type TestApp } from './support/app';
import { createClient, createEnterprise } from './support/fixtures';
import { recordStatements } from './support/round-trips';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';
import { WebhookReceiver } from './support/webhook-receiver';

/** Statements on the webhooks' and the outbox's tables (the queue library's own statements are not bookkeeping). */
const bookkeeping = (sql: string) => /\b(webhook_endpoints|webhook_deliveries|webhook_attempts|events)\b/.test(sql);

/**
 * The round-trip budget of batched webhook delivery (docs/decisions/0004-batched-webhook-delivery.md): a batch of up to
 * DELIVERY_BATCH deliveries of one endpoint costs at most 2 statements of bookkeeping, the claim and the record,
 * whatever the receiver answers. The app runs without its in-process worker, so only the batch's own statements
 * are seen.
 */
describe('webhooks: round-trip budget', () => {
  let database: ScratchDatabase;
  let app: TestApp;
  let receiver: WebhookReceiver;
  let enterpriseId: string;
  let token: string;

  beforeAll(async () => {
    database = await createScratchDatabase('webhook_round_trips');
    app = await startTestApp(
      {
        DATABASE_URL: database.url,
        WEBHOOK_RETRY_SCHEDULE_MS: '0,60000',
        WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      },
      { worker: false },
    );
    receiver = await WebhookReceiver.start();
    const enterprise = await createEnterprise(app);
    enterpriseId = enterprise.id;
    const client = await createClient(app, { enterprise_id: enterprise.id, scopes: ['webhooks:manage'] });
    token = await app.tokenFor(client.id, client.client_secret);
  });

  afterAll(async () => {
    await app?.close();
    await receiver?.close();
    await database?.drop();
  });

  async function endpointWithDueDeliveries(path: string, count: number): Promise<string> {
    const created = await app.http
      .post('/v1/webhook-endpoints')
      .auth(token, { type: 'bearer' })
      .send({ url: receiver.url(path), event_types: ['*'] })
      .expect(201);
    const endpointId = (created.body as { id: string }).id;
    const events = Array.from({ length: count }, () => newId('event'));
    await app.dataSource.query(
      `INSERT INTO events (id, enterprise_id, type, data, relayed_at)
       SELECT id, $2, 'order.paid', '{"order_id":"ord_x"}', now() FROM unnest($1::text[]) AS id`,
      [events, enterpriseId],
    );
    await app.dataSource.query(
      `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, enterprise_id, status, attempts, next_attempt_at)
       SELECT 'whd_' || substr(e.id, 5), e.id, $2, $3, 'pending', 0, now() FROM unnest($1::text[]) AS e(id)`,
      [events, endpointId, enterpriseId],
    );
    return endpointId;
  }

  it('sends a full batch of successes with exactly 2 statements: the claim and the record', async () => {
    const endpointId = await endpointWithDueDeliveries('/all-good', DELIVERY_BATCH + 5);
    const service = app.app.get(WebhookDeliveryService);
    const { result: claimed, statements } = await recordStatements(() => service.deliverBatch(endpointId));
    expect(claimed).toBe(DELIVERY_BATCH);
    expect(statements.map((statement) => statement.sql)).toHaveLength(2);
    expect(receiver.received.filter((request) => request.path === '/all-good')).toHaveLength(DELIVERY_BATCH);
    const [{ delivered, attempts }] = await app.dataSource.query<Array<{ delivered: number; attempts: number }>>(
      `SELECT count(*) FILTER (WHERE d.status = 'delivered')::int AS delivered,
              (SELECT count(*)::int FROM webhook_attempts a WHERE a.endpoint_id = $1) AS attempts
       FROM webhook_deliveries d WHERE d.endpoint_id = $1`,
      [endpointId],
    );
    expect({ delivered, attempts }).toEqual({ delivered: DELIVERY_BATCH, attempts: DELIVERY_BATCH });
  });

  it('records a batch of mixed answers (2xx, 500, 429 with Retry-After) with at most 2 bookkeeping statements', async () => {
    receiver.on('/mixed', (n) =>
      n % 3 === 0
        ? { status: 500 }
        : n % 3 === 1
          ? { status: 204 }
          : { status: 429, headers: { 'retry-after': '120' } },
    );
    const endpointId = await endpointWithDueDeliveries('/mixed', 12);
    const service = app.app.get(WebhookDeliveryService);
    const { result: claimed, statements } = await recordStatements(() => service.deliverBatch(endpointId));
    expect(claimed).toBe(12);
    expect(statements.filter((statement) => bookkeeping(statement.sql))).toHaveLength(2);
    const rows = await app.dataSource.query<Array<{ status: string; n: number }>>(
      `SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY status ORDER BY 1`,
      [endpointId],
    );
    expect(rows).toEqual([
      { status: 'delivered', n: 4 },
      { status: 'pending', n: 8 },
    ]);
  });
});
