import { Webhook } from 'standardwebhooks';
import type { AuditService } from '../audit/audit.service';
import type { DataCipher } from '../common/crypto/data-cipher.service';
import type { AppConfig } from '../config/app-config';
import type { TransactionService } from '../database/transaction.service';
import type { EventsRepository } from '../events/events.repository';
import type { EventsService } from '../events/events.service';
import type { QueueService } from '../queue/queue.service';
import {
  DELIVERY_BATCH,
  jobsFor,
  retryWakeUps,
  subscribes,
  wakeUpsFor,
  WebhookDeliveryService,
} from './webhook-delivery.service';
import type { WebhookMetrics } from './webhook-metrics';
import type { SendResult, WebhookSender } from './webhook-sender';
import { newWebhookSecret } from './webhook-signing';
import type { AttemptOutcome, ClaimedDelivery, NewDelivery, WebhooksRepository } from './webhooks.repository';

const SCHEDULE = [0, 5_000, 300_000];
const SECRET = newWebhookSecret();

/** A hand-written fake of the webhooks repository: due deliveries in memory, the last batch recorded. */
class FakeWebhooksRepository {
  due: ClaimedDelivery[] = [];
  recorded: AttemptOutcome[][] = [];
  failingTooLong = false;
  disabled: Array<{ id: string; reason: string }> = [];
  failedPending: string[] = [];
  inserted: NewDelivery[] = [];
  endpoints: Array<{ id: string; enterpriseId: string; eventTypes: string[] }> = [];

  async claimDueDeliveries(_ctx: unknown, _endpointId: string, options: { limit: number }) {
    return this.due.splice(0, options.limit);
  }
  async recordOutcomes(_ctx: unknown, _endpointId: string, outcomes: AttemptOutcome[]) {
    this.recorded.push(outcomes);
    return { failingTooLong: this.failingTooLong };
  }
  async disableEndpoint(_ctx: unknown, id: string, reason: string) {
    if (this.disabled.some((entry) => entry.id === id)) return false;
    this.disabled.push({ id, reason });
    return true;
  }
  async failPendingDeliveries(_ctx: unknown, endpointId: string) {
    this.failedPending.push(endpointId);
  }
  async enabledEndpointsOf() {
    return this.endpoints;
  }
  async insertDeliveries(_ctx: unknown, deliveries: NewDelivery[]) {
    this.inserted.push(...deliveries);
  }
}

function claimed(n: number, overrides: Partial<ClaimedDelivery> = {}): ClaimedDelivery {
  return {
    id: `whd_${n}`,
    attempts: 1,
    retryBase: 0,
    eventId: `evt_${n}`,
    url: 'https://erp.example.com/hooks',
    secretSealed: 'sealed',
    previousSecretSealed: null,
    previousSecretExpiresAt: null,
    event: {
      type: 'order.paid',
      schemaVersion: 1,
      enterpriseId: 'ent_1',
      data: { order_id: `ord_${n}` },
      createdAt: new Date('2026-12-01T00:00:00Z'),
    },
    ...overrides,
  };
}

function setUp(answer: (url: string, n: number) => SendResult) {
  const repository = new FakeWebhooksRepository();
  const jobs: Array<{ payload: unknown; options?: { delay?: number } }> = [];
  const sent: Array<{ body: string; headers: Record<string, string> }> = [];
  const events: unknown[] = [];
  const audits: unknown[] = [];
  const metrics = { attempted: jest.fn(), exhausted: jest.fn() };
  let n = 0;
  const sender = {
    sendBatch: async (url: string, requests: Array<{ body: string; headers: Record<string, string> }>) => {
      sent.push(...requests);
      return requests.map(() => answer(url, ++n));
    },
  };
  const transactions = { run: (_ctx: unknown, work: () => Promise<unknown>) => work() };
  const queues = {
    addBulk: async (_name: string, added: typeof jobs) => {
      jobs.push(...added);
    },
  };
  const config = { webhookRetrySchedule: SCHEDULE, WEBHOOK_TIMEOUT_MS: 15_000, WEBHOOK_DISABLE_AFTER_SECONDS: 3600 };
  const eventsRepository = {
    lockUnrelayed: async () => [
      { id: 'evt_a', enterpriseId: 'ent_1', type: 'order.paid' },
      { id: 'evt_b', enterpriseId: 'ent_1', type: 'card.debited' },
      { id: 'evt_c', enterpriseId: 'ent_2', type: 'order.paid' },
    ],
    markRelayed: jest.fn(),
  };
  const service = new WebhookDeliveryService(
    repository as unknown as WebhooksRepository,
    eventsRepository as unknown as EventsRepository,
    transactions as unknown as TransactionService,
    queues as unknown as QueueService,
    config as unknown as AppConfig,
    { decrypt: () => SECRET } as unknown as DataCipher,
    sender as unknown as WebhookSender,
    { record: async (_ctx: unknown, event: unknown) => void events.push(event) } as unknown as EventsService,
    { record: async (_ctx: unknown, entry: unknown) => void audits.push(entry) } as unknown as AuditService,
    metrics as unknown as WebhookMetrics,
  );
  return { service, repository, jobs, sent, events, audits, metrics, eventsRepository };
}

const ok = (status = 204): SendResult => ({ status, body: '', retryAfter: undefined, latencyMs: 3 });

describe('WebhookDeliveryService', () => {
  it('sends a batch signed to Standard Webhooks and records every outcome at once', async () => {
    const { service, repository, sent, jobs, metrics } = setUp(() => ok());
    repository.due = [claimed(1), claimed(2), claimed(3)];
    await expect(service.deliverBatch('whe_1')).resolves.toBe(3);
    expect(sent).toHaveLength(3);
    for (const request of sent) {
      const event = new Webhook(SECRET).verify(request.body, request.headers) as { id: string; object: string };
      expect(event.object).toBe('event');
      expect(request.headers['webhook-id']).toBe(event.id);
    }
    expect(repository.recorded).toHaveLength(1);
    expect(
      repository.recorded[0].map((outcome) => [outcome.deliveryId, outcome.succeeded, outcome.nextDelayMs]),
    ).toEqual([
      ['whd_1', true, null],
      ['whd_2', true, null],
      ['whd_3', true, null],
    ]);
    expect(jobs).toEqual([]);
    expect(metrics.attempted).toHaveBeenCalledTimes(3);
  });

  it('schedules failures on the retry schedule, honours Retry-After, and gives up at its end', async () => {
    const { service, repository, jobs, metrics } = setUp((_url, n) =>
      n === 1
        ? { status: 500, body: 'oops', retryAfter: undefined, latencyMs: 1 }
        : n === 2
          ? { status: 429, body: '', retryAfter: '60', latencyMs: 1 }
          : { error: 'timeout', message: 'no response', latencyMs: 15_000 },
    );
    repository.due = [claimed(1), claimed(2), claimed(3, { attempts: 3 })];
    await service.deliverBatch('whe_1');
    const [outcomes] = repository.recorded;
    expect(outcomes.map((o) => [o.responseStatus, o.error, o.nextDelayMs])).toEqual([
      [500, null, 5_000],
      [429, null, 60_000],
      [null, 'timeout', null],
    ]);
    expect(metrics.exhausted).toHaveBeenCalledTimes(1);
    // One wake-up per due time, for the endpoint: the rows say which deliveries are due then.
    expect(jobs).toEqual([
      { payload: { endpointId: 'whe_1' }, options: { delay: 5_000, forgetWhenDone: true } },
      { payload: { endpointId: 'whe_1' }, options: { delay: 60_000, forgetWhenDone: true } },
    ]);
  });

  it('restarts the schedule from a manual replay (retry_base)', async () => {
    const { service, repository } = setUp(() => ({ status: 503, body: '', retryAfter: undefined, latencyMs: 1 }));
    repository.due = [claimed(1, { attempts: 12, retryBase: 11 })];
    await service.deliverBatch('whe_1');
    expect(repository.recorded[0][0].nextDelayMs).toBe(SCHEDULE[1]);
  });

  it('disables the endpoint on a 410, records endpoint.disabled and an audit record, and schedules nothing', async () => {
    const { service, repository, jobs, events, audits } = setUp((_url, n) =>
      n === 1 ? { status: 410, body: '', retryAfter: undefined, latencyMs: 1 } : ok(),
    );
    repository.due = [claimed(1), claimed(2)];
    await service.deliverBatch('whe_1');
    expect(repository.disabled).toEqual([{ id: 'whe_1', reason: 'gone' }]);
    expect(repository.failedPending).toEqual(['whe_1']);
    expect(events).toEqual([
      {
        enterpriseId: 'ent_1',
        type: 'endpoint.disabled',
        data: { endpoint_id: 'whe_1', url: 'https://erp.example.com/hooks', reason: 'gone' },
      },
    ]);
    expect(audits).toMatchObject([{ action: 'webhook_endpoint.disabled', summary: { last_status: 410 } }]);
    expect(jobs).toEqual([]);
  });

  it('disables an endpoint failing for too long without a success', async () => {
    const { service, repository, events } = setUp(() => ({
      status: 500,
      body: '',
      retryAfter: undefined,
      latencyMs: 1,
    }));
    repository.failingTooLong = true;
    repository.due = [claimed(1)];
    await service.deliverBatch('whe_1');
    expect(repository.disabled).toEqual([{ id: 'whe_1', reason: 'failing' }]);
    expect(events).toHaveLength(1);
  });

  it('does not record endpoint.disabled twice when another worker disabled the endpoint first', async () => {
    const { service, repository, events } = setUp(() => ({
      status: 410,
      body: '',
      retryAfter: undefined,
      latencyMs: 1,
    }));
    repository.disabled = [{ id: 'whe_1', reason: 'gone' }];
    repository.due = [claimed(1)];
    await service.deliverBatch('whe_1');
    expect(events).toEqual([]);
  });

  it('claims nothing and records nothing when nothing is due', async () => {
    const { service, repository, sent } = setUp(() => ok());
    await expect(service.deliverBatch('whe_1')).resolves.toBe(0);
    expect(sent).toEqual([]);
    expect(repository.recorded).toEqual([]);
  });

  it('runs batches back to back while full ones come, then hands over to a new job', async () => {
    const { service, repository, jobs } = setUp(() => ok());
    repository.due = Array.from({ length: DELIVERY_BATCH * 2 + 1 }, (_, i) => claimed(i));
    await service.deliver({ endpointId: 'whe_1' });
    expect(repository.recorded.map((batch) => batch.length)).toEqual([DELIVERY_BATCH, DELIVERY_BATCH, 1]);
    expect(jobs).toEqual([]);
  });

  it('relays events into one delivery per subscribed endpoint of their enterprise, and wakes those endpoints', async () => {
    const { service, repository, jobs, eventsRepository } = setUp(() => ok());
    repository.endpoints = [
      { id: 'whe_all', enterpriseId: 'ent_1', eventTypes: ['*'] },
      { id: 'whe_paid', enterpriseId: 'ent_1', eventTypes: ['order.paid'] },
      { id: 'whe_other', enterpriseId: 'ent_9', eventTypes: ['*'] },
    ];
    await expect(service.relayBatch()).resolves.toBe(3);
    expect(repository.inserted.map((d) => `${d.eventId}>${d.endpointId}`)).toEqual([
      'evt_a>whe_all',
      'evt_a>whe_paid',
      'evt_b>whe_all',
    ]);
    expect(eventsRepository.markRelayed).toHaveBeenCalledWith(expect.anything(), ['evt_a', 'evt_b', 'evt_c']);
    expect(jobs.map((job) => job.payload)).toEqual([{ endpointId: 'whe_all' }, { endpointId: 'whe_paid' }]);
  });
});

describe('wake-ups', () => {
  it('are one job per DELIVERY_BATCH new deliveries of an endpoint', () => {
    const deliveries = Array.from({ length: DELIVERY_BATCH + 1 }, (_, i) => ({
      id: `whd_${i}`,
      eventId: `evt_${i}`,
      endpointId: 'whe_1',
      enterpriseId: 'ent_1',
    }));
    expect(wakeUpsFor(deliveries, 0)).toEqual([{ endpointId: 'whe_1', delayMs: 0, batches: 2 }]);
    // No more jobs than batches the endpoint may have under way: each job goes on while batches come full.
    expect(jobsFor(DELIVERY_BATCH * 100)).toBe(5);
    expect(jobsFor(0)).toBe(1);
  });

  it('group a batch’s retries by due second, at the latest delay of each group', () => {
    const outcome = (nextDelayMs: number | null, succeeded = false) => ({ nextDelayMs, succeeded }) as AttemptOutcome;
    expect(
      retryWakeUps('whe_1', [outcome(5_000), outcome(4_200), outcome(null), outcome(null, true), outcome(60_000)]),
    ).toEqual([
      { endpointId: 'whe_1', delayMs: 5_000 },
      { endpointId: 'whe_1', delayMs: 60_000 },
    ]);
  });

  it('subscriptions cover their types, or every type with *', () => {
    expect(subscribes(['*'], 'card.debited')).toBe(true);
    expect(subscribes(['order.paid'], 'order.paid')).toBe(true);
    expect(subscribes(['order.paid'], 'card.debited')).toBe(false);
  });
});

describe('a busy endpoint', () => {
  it('does not hold every queue slot: a job finding its batches under way and as many waiting comes back later', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { service, repository, jobs } = setUp(() => ({ status: 204, body: '', retryAfter: undefined, latencyMs: 1 }));
    const claims: Array<Promise<unknown>> = [];
    repository.claimDueDeliveries = async () => {
      await gate;
      return [];
    };
    for (let i = 0; i < 10; i++) claims.push(service.deliver({ endpointId: 'whe_busy' }));
    await service.deliver({ endpointId: 'whe_busy' });
    expect(jobs).toEqual([{ payload: { endpointId: 'whe_busy' }, options: { delay: 500, forgetWhenDone: true } }]);
    release();
    await Promise.all(claims);
  });
});
