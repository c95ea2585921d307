import type { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import type { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import { newId } from '../common/ids';
import type { TransactionService } from '../database/transaction.service';
import type { Event } from '../events/event.entity';
import type { EventsService } from '../events/events.service';
import type { WebhookDeliveryService } from './webhook-delivery.service';
import { MAX_ENDPOINTS_PER_ENTERPRISE, WebhookEndpointsService } from './webhook-endpoints.service';
import type { WebhookUrlPolicy } from './webhook-url.policy';
import type { WebhookDelivery, WebhookEndpoint } from './webhook.entity';
import type { WebhooksRepository } from './webhooks.repository';

const ENTERPRISE = newId('enterprise');

function endpoint(overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    id: newId('webhookEndpoint'),
    enterpriseId: ENTERPRISE,
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
    createdAt: new Date(),
    updatedAt: new Date(),
    deletedAt: null,
    ...overrides,
  };
}

/** A hand-written fake of the repository: endpoints in memory, and what was asked of the deliveries. */
class FakeWebhooksRepository {
  endpoints: WebhookEndpoint[] = [];
  failed: Array<[string, string]> = [];
  requeued = 0;
  upserted: Array<{ id: string; endpointId: string }> = [];

  async lockEnterpriseEndpoints() {}
  async countLiveEndpoints(_ctx: unknown, enterpriseId: string) {
    return this.endpoints.filter((e) => e.enterpriseId === enterpriseId && !e.deletedAt).length;
  }
  async insertEndpoint(_ctx: unknown, row: WebhookEndpoint) {
    const stored = { ...row, createdAt: new Date(), updatedAt: new Date() };
    this.endpoints.push(stored);
    return stored;
  }
  async findEndpoint(_ctx: unknown, id: string, enterpriseId: string) {
    return this.endpoints.find((e) => e.id === id && e.enterpriseId === enterpriseId) ?? null;
  }
  async saveEndpoint(_ctx: unknown, row: WebhookEndpoint) {
    return row;
  }
  async failPendingDeliveries(_ctx: unknown, endpointId: string, reason: string) {
    this.failed.push([endpointId, reason]);
  }
  async markEndpointDeleted(_ctx: unknown, id: string) {
    const found = this.endpoints.find((e) => e.id === id)!;
    found.deletedAt = new Date();
    found.status = 'disabled';
  }
  async enabledEndpointsOf(_ctx: unknown, enterpriseIds: string[]) {
    return this.endpoints.filter((e) => enterpriseIds.includes(e.enterpriseId) && e.status === 'enabled');
  }
  async requeueFailedDeliveries() {
    return this.requeued;
  }
  async insertDueDelivery(_ctx: unknown, delivery: { id: string; eventId: string; endpointId: string }) {
    return { ...delivery, status: 'pending', attempts: 0, createdAt: new Date() } as unknown as WebhookDelivery;
  }
  async upsertDueDeliveries(_ctx: unknown, _event: unknown, deliveries: Array<{ id: string; endpointId: string }>) {
    this.upserted.push(...deliveries);
    return deliveries.map((d) => ({ ...d, status: 'pending', attempts: 0, createdAt: new Date() }));
  }
}

function setUp(event: Partial<Event> = {}) {
  const repository = new FakeWebhooksRepository();
  const wakeUps: unknown[] = [];
  const audits: Array<{ action: string }> = [];
  const recorded: unknown[] = [];
  const transactions = {
    run: (_ctx: unknown, work: () => Promise<unknown>) => work(),
    afterCommit: async (_ctx: unknown, callback: () => Promise<void>) => callback(),
  };
  const events = {
    record: async (_ctx: unknown, e: unknown) => {
      recorded.push(e);
      return { id: newId('event') };
    },
    find: async (_ctx: unknown, id: string) => ({
      id,
      enterpriseId: ENTERPRISE,
      type: 'order.paid',
      data: {},
      ...event,
    }),
  };
  const service = new WebhookEndpointsService(
    repository as unknown as WebhooksRepository,
    transactions as unknown as TransactionService,
    { record: async (_ctx: unknown, entry: { action: string }) => void audits.push(entry) } as unknown as AuditService,
    { encrypt: (value: string) => `sealed:${value}` } as unknown as DataCipher,
    { check: async (url: string) => url } as unknown as WebhookUrlPolicy,
    events as unknown as EventsService,
    { schedule: async (w: unknown[]) => void wakeUps.push(...w) } as unknown as WebhookDeliveryService,
  );
  const ctx = new RequestContext('req_1', { clientId: 'cli_1', enterpriseId: ENTERPRISE, scopes: new Set() });
  return { service, repository, wakeUps, audits, recorded, ctx };
}

const code = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => null,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ApiError);
  return (error as ApiError).code;
};

describe('WebhookEndpointsService', () => {
  it('creates an endpoint with a sealed secret shown once, subscribed to sorted known types', async () => {
    const { service, repository, audits, ctx } = setUp();
    const created = await service.create(ctx, {
      url: 'https://erp.example.com/a',
      event_types: ['order.paid', 'card.debited'],
    });
    expect(created.secret).toMatch(/^whsec_/);
    expect(created.event_types).toEqual(['card.debited', 'order.paid']);
    expect(repository.endpoints[0].secretSealed).toBe(`sealed:${created.secret}`);
    expect(audits.map((a) => a.action)).toEqual(['webhook_endpoint.created']);
  });

  it('refuses unknown types, ping, and * mixed with types', async () => {
    const { service, ctx } = setUp();
    const create = (event_types: string[]) => service.create(ctx, { url: 'https://erp.example.com/a', event_types });
    expect(await code(create(['order.teleported']))).toBe('unknown_event_type');
    expect(await code(create(['ping']))).toBe('unknown_event_type');
    expect(await code(create(['*', 'order.paid']))).toBe('invalid_event_types');
  });

  it(`refuses more than ${MAX_ENDPOINTS_PER_ENTERPRISE} live endpoints per enterprise`, async () => {
    const { service, repository, ctx } = setUp();
    repository.endpoints = Array.from({ length: MAX_ENDPOINTS_PER_ENTERPRISE }, () => endpoint());
    expect(await code(service.create(ctx, { url: 'https://erp.example.com/a', event_types: ['*'] }))).toBe(
      'too_many_webhook_endpoints',
    );
  });

  it('fails pending deliveries when an endpoint is disabled or deleted', async () => {
    const { service, repository, ctx } = setUp();
    const [a, b] = [endpoint(), endpoint()];
    repository.endpoints = [a, b];
    await service.update(ctx, a.id, { enabled: false });
    await service.remove(ctx, b.id);
    expect(repository.failed).toEqual([
      [a.id, 'endpoint_disabled'],
      [b.id, 'endpoint_deleted'],
    ]);
  });

  it('hides another tenant’s endpoint and a deleted one (404)', async () => {
    const { service, repository, ctx } = setUp();
    const foreign = endpoint({ enterpriseId: newId('enterprise') });
    const deleted = endpoint({ deletedAt: new Date() });
    repository.endpoints = [foreign, deleted];
    expect(await code(service.get(ctx, foreign.id))).toBe('resource_not_found');
    expect(await code(service.get(ctx, deleted.id))).toBe('resource_not_found');
    expect(await code(service.get(ctx, 'nonsense'))).toBe('resource_not_found');
  });

  it('pings an enabled endpoint only, waking it after commit', async () => {
    const { service, repository, wakeUps, recorded, ctx } = setUp();
    const [on, off] = [endpoint(), endpoint({ status: 'disabled', disabledReason: 'by_client' })];
    repository.endpoints = [on, off];
    await service.test(ctx, on.id);
    expect(recorded).toMatchObject([{ type: 'ping', data: { endpoint_id: on.id }, relayed: true }]);
    expect(wakeUps).toEqual([{ endpointId: on.id }]);
    expect(await code(service.test(ctx, off.id))).toBe('webhook_endpoint_disabled');
  });

  it('recovers within 30 days only, and wakes the endpoint for what it requeued', async () => {
    const { service, repository, wakeUps, ctx } = setUp();
    const target = endpoint();
    repository.endpoints = [target];
    const old = new Date(Date.now() - 31 * 86_400_000).toISOString();
    expect(await code(service.recover(ctx, target.id, { since: old }))).toBe('recovery_window_exceeded');
    repository.requeued = 3;
    const result = await service.recover(ctx, target.id, { since: new Date(Date.now() - 3_600_000).toISOString() });
    expect(result.deliveries_requeued).toBe(3);
    expect(wakeUps).toEqual([{ endpointId: target.id, batches: 1 }]);
  });

  it('redelivers to every enabled subscribed endpoint, or refuses when there is none', async () => {
    const { service, repository, wakeUps, ctx } = setUp();
    const [all, paid, other] = [
      endpoint({ eventTypes: ['*'] }),
      endpoint({ eventTypes: ['order.paid'] }),
      endpoint({ eventTypes: ['card.debited'] }),
    ];
    repository.endpoints = [all, paid, other];
    await service.redeliver(ctx, newId('event'), {});
    expect(repository.upserted.map((d) => d.endpointId)).toEqual([all.id, paid.id]);
    expect(wakeUps).toEqual([{ endpointId: all.id }, { endpointId: paid.id }]);

    const lonely = setUp({ type: 'card.frozen' });
    lonely.repository.endpoints = [endpoint({ eventTypes: ['order.paid'] })];
    expect(await code(lonely.service.redeliver(lonely.ctx, newId('event'), {}))).toBe('no_subscribed_endpoints');
  });
});
