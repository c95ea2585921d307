import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { EventsRepository } from '../events/events.repository';
import { WebhooksRepository, type AttemptOutcome } from './webhooks.repository';

const OPTIONS = { limit: 3, leaseMs: 60_000, earlyToleranceMs: 0 };
const RECORD = { successStampResolutionS: 10, disableAfterS: 3600 };

describe('WebhooksRepository (real Postgres)', () => {
  let db: MediumDatabase;
  let webhooks: WebhooksRepository;
  let events: EventsRepository;

  beforeAll(async () => {
    db = await openMediumDatabase();
    webhooks = new WebhooksRepository(db.connection);
    events = new EventsRepository(db.connection);
  });
  afterAll(() => db.close());

  /** An enabled endpoint with `due` deliveries due now, one per new event. */
  async function endpointWithDue(ctx: RequestContext, due: number) {
    const enterpriseId = newId('enterprise');
    const endpoint = await webhooks.insertEndpoint(ctx, {
      id: newId('webhookEndpoint'),
      enterpriseId,
      url: 'https://erp.example.com/hooks',
      description: null,
      eventTypes: ['*'],
      status: 'enabled',
      disabledReason: null,
      secretSealed: 'sealed',
      previousSecretSealed: null,
      previousSecretExpiresAt: null,
      lastSuccessAt: null,
      failingSince: null,
      deletedAt: null,
    });
    const deliveries = [];
    for (let i = 0; i < due; i++) {
      const event = await events.insert(ctx, { enterpriseId, type: 'order.paid', data: { n: i } });
      deliveries.push({ id: newId('webhookDelivery'), eventId: event.id, endpointId: endpoint.id, enterpriseId });
    }
    await webhooks.insertDeliveries(ctx, deliveries, 0);
    return { endpoint, deliveries };
  }

  const states = (ctx: RequestContext, endpointId: string) =>
    db.connection.query<Array<{ status: string; attempts: number; failure_reason: string | null }>>(
      ctx,
      'SELECT status, attempts, failure_reason FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id',
      [endpointId],
    );

  function outcome(delivery: { id: string; eventId: string; attempts: number }, fields: Partial<AttemptOutcome>) {
    return {
      attemptId: newId('webhookAttempt'),
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      attemptNo: delivery.attempts,
      responseStatus: 204,
      responseBody: '',
      error: null,
      latencyMs: 4,
      succeeded: true,
      nextDelayMs: null,
      ...fields,
    };
  }

  it('claims up to the limit of due deliveries of one endpoint, with their event, and leases them', () =>
    db.rolledBack(async (ctx) => {
      const { endpoint } = await endpointWithDue(ctx, 5);
      const first = await webhooks.claimDueDeliveries(ctx, endpoint.id, OPTIONS);
      expect(first).toHaveLength(3);
      expect(first[0]).toMatchObject({
        attempts: 1,
        retryBase: 0,
        url: endpoint.url,
        secretSealed: 'sealed',
        event: { type: 'order.paid', enterpriseId: endpoint.enterpriseId, schemaVersion: 1 },
      });
      // Leased: the next claim takes the rest, never the same rows.
      const second = await webhooks.claimDueDeliveries(ctx, endpoint.id, OPTIONS);
      expect(second).toHaveLength(2);
      expect(second.map((d) => d.id)).not.toEqual(expect.arrayContaining([first[0].id]));
      expect(await webhooks.claimDueDeliveries(ctx, endpoint.id, OPTIONS)).toEqual([]);
    }));

  it('skips rows another claim holds locked (FOR UPDATE SKIP LOCKED)', async () => {
    // Committed setup, removed at the end: two sessions must see the rows.
    const setup = db.dataSource.createQueryRunner();
    await setup.connect();
    const ctx = RequestContext.system();
    await setup.startTransaction();
    ctx.bindTransaction({ manager: setup.manager, afterCommit: [] });
    const made = await endpointWithDue(ctx, 4);
    await setup.commitTransaction();
    const endpointId = made.endpoint.id;
    const ids = made.deliveries.map((d) => d.id);
    try {
      const holder = db.dataSource.createQueryRunner();
      await holder.connect();
      await holder.startTransaction();
      await holder.query('SELECT id FROM webhook_deliveries WHERE id = ANY($1) FOR UPDATE', [ids.slice(0, 2)]);
      const claimed = await webhooks.claimDueDeliveries(RequestContext.system(), endpointId, { ...OPTIONS, limit: 10 });
      expect(claimed.map((d) => d.id).sort()).toEqual(ids.slice(2).sort());
      await holder.rollbackTransaction();
      await holder.release();
    } finally {
      await setup.query('DELETE FROM webhook_deliveries WHERE endpoint_id = $1', [endpointId]);
      await setup.query('DELETE FROM events WHERE id = ANY($1)', [made.deliveries.map((d) => d.eventId)]);
      await setup.query('DELETE FROM webhook_endpoints WHERE id = $1', [endpointId]);
      await setup.release();
    }
  });

  it('fails the due deliveries of a disabled endpoint instead of claiming them', () =>
    db.rolledBack(async (ctx) => {
      const { endpoint } = await endpointWithDue(ctx, 2);
      expect(await webhooks.disableEndpoint(ctx, endpoint.id, 'gone')).toBe(true);
      expect(await webhooks.disableEndpoint(ctx, endpoint.id, 'gone')).toBe(false);
      expect(await webhooks.claimDueDeliveries(ctx, endpoint.id, OPTIONS)).toEqual([]);
      expect(await states(ctx, endpoint.id)).toEqual([
        { status: 'failed', attempts: 0, failure_reason: 'endpoint_disabled' },
        { status: 'failed', attempts: 0, failure_reason: 'endpoint_disabled' },
      ]);
    }));

  it('records a batch in one statement: attempts, each delivery’s next state and the endpoint’s health', () =>
    db.rolledBack(async (ctx) => {
      const { endpoint } = await endpointWithDue(ctx, 3);
      const [a, b, c] = await webhooks.claimDueDeliveries(ctx, endpoint.id, OPTIONS);
      const result = await webhooks.recordOutcomes(
        ctx,
        endpoint.id,
        [
          outcome(a, {}),
          outcome(b, { responseStatus: 500, succeeded: false, nextDelayMs: 5_000 }),
          outcome(c, { responseStatus: null, error: 'timeout', succeeded: false, nextDelayMs: null }),
        ],
        RECORD,
      );
      expect(result).toEqual({ failingTooLong: false });
      const rows = await db.connection.query<Array<{ id: string; status: string; failure_reason: string | null }>>(
        ctx,
        'SELECT id, status, failure_reason FROM webhook_deliveries WHERE endpoint_id = $1',
        [endpoint.id],
      );
      const byId = new Map(rows.map((row) => [row.id, row]));
      expect(byId.get(a.id)).toMatchObject({ status: 'delivered', failure_reason: null });
      expect(byId.get(b.id)).toMatchObject({ status: 'pending', failure_reason: null });
      expect(byId.get(c.id)).toMatchObject({ status: 'failed', failure_reason: 'retries_exhausted' });
      const attempts = await webhooks.listAttempts(ctx, endpoint.id, { limit: 10 });
      expect(attempts.data).toHaveLength(3);
      const failed = await webhooks.listAttempts(ctx, endpoint.id, { succeeded: 'false' });
      expect(failed.data.map((attempt) => attempt.deliveryId).sort()).toEqual([b.id, c.id].sort());
      const [health] = await db.connection.query<Array<{ last_success_at: Date | null; failing_since: Date | null }>>(
        ctx,
        'SELECT last_success_at, failing_since FROM webhook_endpoints WHERE id = $1',
        [endpoint.id],
      );
      expect(health.last_success_at).toBeInstanceOf(Date);
      expect(health.failing_since).toBeNull();
    }));

  it('starts the failure clock on an all-failed batch and reports an endpoint failing too long', () =>
    db.rolledBack(async (ctx) => {
      const { endpoint } = await endpointWithDue(ctx, 2);
      const [a] = await webhooks.claimDueDeliveries(ctx, endpoint.id, { ...OPTIONS, limit: 1 });
      const failure = { responseStatus: 500, succeeded: false, nextDelayMs: 0 };
      expect(await webhooks.recordOutcomes(ctx, endpoint.id, [outcome(a, failure)], RECORD)).toEqual({
        failingTooLong: false,
      });
      await db.connection.query(
        ctx,
        "UPDATE webhook_endpoints SET failing_since = now() - interval '2 hours' WHERE id = $1",
        [endpoint.id],
      );
      const [b] = await webhooks.claimDueDeliveries(ctx, endpoint.id, { ...OPTIONS, limit: 1 });
      expect(await webhooks.recordOutcomes(ctx, endpoint.id, [outcome(b, failure)], RECORD)).toEqual({
        failingTooLong: true,
      });
    }));

  it('leaves a delivery alone when a later attempt took it over (stale record)', () =>
    db.rolledBack(async (ctx) => {
      const { endpoint } = await endpointWithDue(ctx, 1);
      const [a] = await webhooks.claimDueDeliveries(ctx, endpoint.id, { ...OPTIONS, leaseMs: -1 });
      const [again] = await webhooks.claimDueDeliveries(ctx, endpoint.id, OPTIONS);
      expect(again.attempts).toBe(2);
      await webhooks.recordOutcomes(ctx, endpoint.id, [outcome(a, {})], RECORD);
      expect(await states(ctx, endpoint.id)).toEqual([{ status: 'pending', attempts: 2, failure_reason: null }]);
    }));

  it('requeues failed deliveries, upserts redeliveries and finds overdue endpoints', () =>
    db.rolledBack(async (ctx) => {
      const { endpoint, deliveries } = await endpointWithDue(ctx, 2);
      await webhooks.failPendingDeliveries(ctx, endpoint.id, 'endpoint_disabled');
      expect(await webhooks.requeueFailedDeliveries(ctx, endpoint.id, new Date(Date.now() - 60_000))).toBe(2);
      const redelivered = await webhooks.upsertDueDeliveries(
        ctx,
        { id: deliveries[0].eventId, enterpriseId: endpoint.enterpriseId },
        [{ id: newId('webhookDelivery'), endpointId: endpoint.id }],
      );
      expect(redelivered).toHaveLength(1);
      expect(redelivered[0]).toMatchObject({ id: deliveries[0].id, status: 'pending', retryBase: 0 });
      await db.connection.query(
        ctx,
        "UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 minute' WHERE endpoint_id = $1",
        [endpoint.id],
      );
      expect(await webhooks.overdueEndpoints(ctx, 10_000, 100_000)).toEqual(
        expect.arrayContaining([{ endpointId: endpoint.id, overdue: 2 }]),
      );
      const backlog = await webhooks.backlog(ctx);
      expect(backlog.due).toBeGreaterThanOrEqual(2);
    }));
});
