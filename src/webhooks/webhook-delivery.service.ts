import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { EventDto } from '../events/dto/event.dto';
import type { Event } from '../events/event.entity';
import { EventsRepository } from '../events/events.repository';
import { EventsService } from '../events/events.service';
import { OnJob } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { KeyedLimiter } from './keyed-limiter';
import { WebhookMetrics } from './webhook-metrics';
import { WebhookSender, type SendResult } from './webhook-sender';
import { RETRY_AFTER_STATUSES, nextAttemptDelay, parseRetryAfter, signatureHeader } from './webhook-signing';
import type { DisabledReason } from './webhook.entity';
import { WebhooksRepository, type AttemptOutcome, type ClaimedDelivery, type NewDelivery } from './webhooks.repository';

/** Events relayed per transaction. */
const RELAY_BATCH = 1_000;
/**
 * Deliveries of one endpoint claimed, sent and recorded together: one claim statement, one record statement
 * (docs/decisions/0004-batched-webhook-delivery.md).
 */
export const DELIVERY_BATCH = 64;
/**
 * Batches of one endpoint sending at once in a process. Times DELIVERY_BATCH, it is the origin's pool size
 * (MAX_CONNECTIONS_PER_ORIGIN), so no request waits for a connection and its timeout is its own.
 */
export const BATCHES_SENDING_PER_ENDPOINT = 2;
/** Batches of one endpoint under way at once in a process: others claim and record while some are sending. */
const BATCHES_IN_FLIGHT_PER_ENDPOINT = 5;
/** A job for an endpoint that has all its batches under way in this process comes back after this long. */
const BUSY_ENDPOINT_RETRY_MS = 500;
/** Batches one job runs back to back while the endpoint has more due; then it hands over to a new job. */
const BATCHES_PER_JOB = 16;
/** A claimed attempt that has not reported back this long after its timeout is taken as lost (worker died). */
const ATTEMPT_LEASE_MARGIN_MS = 15_000;
/** A delivery due this long without being claimed gets its wake-up again from the sweep. */
const OVERDUE_AFTER_MS = 10_000;
const SWEEP_EVERY_MS = 10_000;
const SWEEP_BATCH = 10_000;
const SWEEP_SCHEDULER = 'webhook-delivery-sweep';
/** A job may fire a little before the rows say they are due (clock skew between processes). */
const EARLY_TOLERANCE_MS = 2_000;
/** Retry wake-ups of one batch are grouped by due time at this resolution (one job per group). */
const RETRY_WAKE_RESOLUTION_MS = 1_000;
/** last_success_at is refreshed at most this often, so that a busy endpoint's row is not written per batch. */
const SUCCESS_STAMP_RESOLUTION_S = 10;

/** The secret-name prefix of DataCipher contexts: a sealed secret cannot be moved to another endpoint. */
export const secretContext = (endpointId: string) => `webhook_endpoints.secret:${endpointId}`;

/** A wake-up for an endpoint: `batches` jobs that each claim what is due then. */
export interface EndpointWakeUp {
  endpointId: string;
  delayMs?: number;
  /** Jobs to enqueue (deliveries expected ÷ DELIVERY_BATCH, so that a burst is sent by several jobs at once). */
  batches?: number;
}

/**
 * Gets committed events to the endpoints that want them, at least once
 * (docs/decisions/0004-batched-webhook-delivery.md):
 *
 * 1. Relay (worker processes): a loop takes unrelayed outbox rows with FOR UPDATE SKIP LOCKED (several workers
 *    share the work), creates one delivery row per subscribed endpoint and marks the events relayed, in one
 *    transaction; then enqueues `deliver-webhooks` jobs for each endpoint that got deliveries.
 * 2. Delivery: a job is for one endpoint. It claims up to DELIVERY_BATCH due deliveries of it in one statement
 *    (FOR UPDATE SKIP LOCKED: concurrent jobs take disjoint rows; each claim leases its rows), sends them at once
 *    over the origin's keep-alive pool, records every attempt and every delivery's next state in one statement,
 *    and wakes the endpoint again when the retries fall due. No order between deliveries is promised.
 * 3. Sweep: the delivery rows are the truth about what is due; every few seconds endpoints with overdue deliveries
 *    (their wake-up was lost between commit and enqueue, or their worker died mid-batch) get a job again.
 */
@Injectable()
export class WebhookDeliveryService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDeliveryService.name);
  private relayLoop: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  /** Sealed secret → secret, so that a busy endpoint's secret is not decrypted per delivery. */
  private readonly secrets = new Map<string, string>();
  /** Per endpoint, in this process: batches under way (claimed and not yet recorded), and batches sending. */
  private readonly batches = new KeyedLimiter(BATCHES_IN_FLIGHT_PER_ENDPOINT);
  private readonly sending = new KeyedLimiter(BATCHES_SENDING_PER_ENDPOINT);

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly eventsRepository: EventsRepository,
    private readonly transactions: TransactionService,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
    private readonly cipher: DataCipher,
    private readonly sender: WebhookSender,
    private readonly events: EventsService,
    private readonly audit: AuditService,
    private readonly metrics: WebhookMetrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.queues.isWorker) return;
    await this.queues.upsertScheduler(SWEEP_SCHEDULER, JobName.SweepWebhookDeliveries, {}, { everyMs: SWEEP_EVERY_MS });
    this.relayLoop = this.runRelayLoop();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.relayLoop;
  }

  /** Relays until nothing is pending, then polls every WEBHOOK_RELAY_INTERVAL_MS. Errors wait and try again. */
  private async runRelayLoop(): Promise<void> {
    while (!this.stopping) {
      let relayed = 0;
      try {
        relayed = await this.relayBatch();
      } catch (err) {
        this.logger.warn({ msg: 'relaying events failed; retrying', err });
      }
      if (relayed < RELAY_BATCH) await this.pause(this.config.WEBHOOK_RELAY_INTERVAL_MS);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One relay transaction; returns how many events it relayed. Public for tests and the benchmark. */
  async relayBatch(): Promise<number> {
    const firstDelayMs = this.config.webhookRetrySchedule[0];
    const ctx = RequestContext.system();
    const { relayed, deliveries } = await this.transactions.run(ctx, async () => {
      const events = await this.eventsRepository.lockUnrelayed(ctx, RELAY_BATCH);
      if (events.length === 0) return { relayed: 0, deliveries: [] };
      const endpoints = await this.repository.enabledEndpointsOf(ctx, [
        ...new Set(events.map((event) => event.enterpriseId)),
      ]);
      const deliveries: NewDelivery[] = [];
      for (const event of events) {
        for (const endpoint of endpoints) {
          if (endpoint.enterpriseId !== event.enterpriseId || !subscribes(endpoint.eventTypes, event.type)) continue;
          deliveries.push({
            id: newId('webhookDelivery'),
            eventId: event.id,
            endpointId: endpoint.id,
            enterpriseId: event.enterpriseId,
          });
        }
      }
      await this.repository.insertDeliveries(ctx, deliveries, firstDelayMs);
      await this.eventsRepository.markRelayed(
        ctx,
        events.map((event) => event.id),
      );
      return { relayed: events.length, deliveries };
    });
    // After commit. Lost here (crash, queue backend down), the sweep wakes the endpoints once they are overdue.
    await this.schedule(wakeUpsFor(deliveries, firstDelayMs));
    return relayed;
  }

  /** Enqueues delivery jobs for endpoints whose rows say deliveries are (or will be) due; after those rows commit. */
  async schedule(wakeUps: readonly EndpointWakeUp[]): Promise<void> {
    const jobs = wakeUps.flatMap((wakeUp) =>
      Array.from({ length: Math.max(1, wakeUp.batches ?? 1) }, () => ({
        payload: { endpointId: wakeUp.endpointId },
        // No job id: concurrent jobs for one endpoint are harmless (they claim disjoint rows or nothing), while a
        // deduplicated wake-up could be swallowed by a job that has already made its last claim.
        options: { delay: wakeUp.delayMs || undefined, forgetWhenDone: true },
      })),
    );
    for (let i = 0; i < jobs.length; i += 1_000)
      await this.queues.addBulk(JobName.DeliverWebhooks, jobs.slice(i, i + 1_000));
  }

  @OnJob(JobName.SweepWebhookDeliveries)
  async sweep(): Promise<void> {
    const overdue = await this.repository.overdueEndpoints(RequestContext.system(), OVERDUE_AFTER_MS, SWEEP_BATCH);
    if (overdue.length === 0) return;
    this.logger.log({
      msg: 'waking endpoints with overdue webhook deliveries',
      endpoints: overdue.length,
      deliveries: overdue.reduce((sum, endpoint) => sum + endpoint.overdue, 0),
    });
    await this.schedule(
      overdue.map((endpoint) => ({
        endpointId: endpoint.endpointId,
        batches: jobsFor(endpoint.overdue),
      })),
    );
  }

  /**
   * One endpoint's due deliveries, batch after batch while full ones keep coming (up to BATCHES_PER_JOB). When the
   * endpoint already has all the batches it may have under way here and as many jobs waiting for a turn, the job
   * comes back a little later instead of waiting too: a busy endpoint must not hold every queue slot while other
   * endpoints' deliveries wait.
   */
  @OnJob(JobName.DeliverWebhooks)
  async deliver(payload: { endpointId: string }): Promise<void> {
    if (this.batches.isCrowded(payload.endpointId, BATCHES_IN_FLIGHT_PER_ENDPOINT)) {
      await this.schedule([{ endpointId: payload.endpointId, delayMs: BUSY_ENDPOINT_RETRY_MS }]);
      return;
    }
    for (let batch = 0; batch < BATCHES_PER_JOB; batch++) {
      const claimed = await this.deliverBatch(payload.endpointId);
      if (claimed < DELIVERY_BATCH) return;
    }
    await this.schedule([{ endpointId: payload.endpointId }]);
  }

  /** Claims, sends and records one batch; returns how many deliveries it claimed. Public for tests. */
  async deliverBatch(endpointId: string): Promise<number> {
    return this.batches.run(endpointId, async () => {
      const ctx = RequestContext.system();
      const claimed = await this.repository.claimDueDeliveries(ctx, endpointId, {
        limit: DELIVERY_BATCH,
        // Covers the wait for a sending turn (at most one batch's sending) and the batch's own sending.
        leaseMs: 2 * this.config.WEBHOOK_TIMEOUT_MS + ATTEMPT_LEASE_MARGIN_MS,
        earlyToleranceMs: EARLY_TOLERANCE_MS,
      });
      if (claimed.length === 0) return 0;
      const requests = claimed.map((delivery) => this.signedRequest(endpointId, delivery));
      // One endpoint, one URL: every claimed row carries the endpoint's current one.
      const results = await this.sending.run(endpointId, () => this.sender.sendBatch(claimed[0].url, requests));
      await this.recordBatch(ctx, endpointId, claimed, results);
      return claimed.length;
    });
  }

  /** The delivery's body, the event as GET /v1/events/{id} shows it, signed to Standard Webhooks. */
  private signedRequest(
    endpointId: string,
    claimed: ClaimedDelivery,
  ): { body: string; headers: Record<string, string> } {
    const body = JSON.stringify(
      EventDto.from({
        id: claimed.eventId,
        type: claimed.event.type,
        schemaVersion: claimed.event.schemaVersion,
        enterpriseId: claimed.event.enterpriseId,
        createdAt: claimed.event.createdAt,
        data: claimed.event.data,
      } as Event),
    );
    const timestamp = Math.floor(Date.now() / 1000);
    const secrets = [this.openSecret(endpointId, claimed.secretSealed)];
    if (claimed.previousSecretSealed && (claimed.previousSecretExpiresAt?.getTime() ?? 0) > Date.now()) {
      secrets.push(this.openSecret(endpointId, claimed.previousSecretSealed));
    }
    return {
      body,
      headers: {
        'webhook-id': claimed.eventId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(claimed.eventId, timestamp, body, secrets),
      },
    };
  }

  private openSecret(endpointId: string, sealed: string): string {
    let secret = this.secrets.get(sealed);
    if (secret === undefined) {
      secret = this.cipher.decrypt(sealed, secretContext(endpointId));
      if (this.secrets.size >= 1_000) this.secrets.clear();
      this.secrets.set(sealed, secret);
    }
    return secret;
  }

  /**
   * Every attempt and every delivery's next state in one statement; then, rarely, the endpoint is disabled (a 410
   * disables it at once; so does failing without a success for WEBHOOK_DISABLE_AFTER_SECONDS); else the endpoint
   * is woken again when its retries fall due.
   */
  private async recordBatch(
    ctx: RequestContext,
    endpointId: string,
    claimed: readonly ClaimedDelivery[],
    results: readonly SendResult[],
  ): Promise<void> {
    const now = Date.now();
    const outcomes = claimed.map((delivery, i) =>
      attemptOutcome(delivery, results[i], this.config.webhookRetrySchedule, now),
    );
    const { failingTooLong } = await this.repository.recordOutcomes(ctx, endpointId, outcomes, {
      successStampResolutionS: SUCCESS_STAMP_RESOLUTION_S,
      disableAfterS: this.config.WEBHOOK_DISABLE_AFTER_SECONDS,
    });
    claimed.forEach((delivery, i) => {
      this.metrics.attempted(outcomes[i].succeeded, delivery.event.createdAt);
      if (!outcomes[i].succeeded && outcomes[i].nextDelayMs === null) this.metrics.exhausted();
    });
    const reason: DisabledReason | null = outcomes.some((outcome) => outcome.responseStatus === 410)
      ? 'gone'
      : failingTooLong
        ? 'failing'
        : null;
    if (reason && (await this.disable(endpointId, claimed[0], reason))) {
      this.logger.warn({ msg: 'webhook endpoint disabled', endpointId, reason });
      return;
    }
    await this.schedule(retryWakeUps(endpointId, outcomes));
  }

  /** Disables the endpoint (if still enabled), fails its pending deliveries and records endpoint.disabled. */
  private async disable(endpointId: string, sample: ClaimedDelivery, reason: DisabledReason): Promise<boolean> {
    const ctx = RequestContext.system();
    return this.transactions.run(ctx, async () => {
      if (!(await this.repository.disableEndpoint(ctx, endpointId, reason))) return false;
      await this.repository.failPendingDeliveries(ctx, endpointId, 'endpoint_disabled');
      await this.events.record(ctx, {
        enterpriseId: sample.event.enterpriseId,
        type: 'endpoint.disabled',
        data: { endpoint_id: endpointId, url: sample.url, reason },
      });
      await this.audit.record(ctx, {
        action: 'webhook_endpoint.disabled',
        objectType: 'webhook_endpoint',
        objectId: endpointId,
        enterpriseId: sample.event.enterpriseId,
        summary: { reason, last_status: reason === 'gone' ? 410 : null },
      });
      return true;
    });
  }
}

/** Whether an endpoint's subscription covers an event type (pings never get here: they go to one endpoint). */
export function subscribes(eventTypes: readonly string[], type: string): boolean {
  return eventTypes.includes(type) || eventTypes.includes('*');
}

/** What an attempt came to and when the next is due: the retry schedule, pushed later by a Retry-After. */
export function attemptOutcome(
  delivery: ClaimedDelivery,
  result: SendResult,
  schedule: readonly number[],
  now: number,
): AttemptOutcome {
  const responded = 'status' in result;
  const succeeded = responded && result.status >= 200 && result.status < 300;
  const retryAfter =
    responded && RETRY_AFTER_STATUSES.has(result.status) ? parseRetryAfter(result.retryAfter, now) : null;
  return {
    attemptId: newId('webhookAttempt'),
    deliveryId: delivery.id,
    eventId: delivery.eventId,
    attemptNo: delivery.attempts,
    responseStatus: responded ? result.status : null,
    responseBody: responded ? result.body : null,
    error: responded ? null : result.error,
    latencyMs: result.latencyMs,
    succeeded,
    nextDelayMs: succeeded ? null : nextAttemptDelay(schedule, delivery.attempts - delivery.retryBase, retryAfter),
  };
}

/**
 * Jobs to wake an endpoint with `due` deliveries: one per DELIVERY_BATCH, so that a burst is sent in parallel, but
 * no more than the endpoint may have batches under way (each job goes on while it claims full batches).
 */
export function jobsFor(due: number): number {
  return Math.max(1, Math.min(BATCHES_IN_FLIGHT_PER_ENDPOINT, Math.ceil(due / DELIVERY_BATCH)));
}

/** New deliveries' wake-ups: per endpoint, jobsFor(its new deliveries). */
export function wakeUpsFor(deliveries: readonly NewDelivery[], delayMs: number): EndpointWakeUp[] {
  const counts = new Map<string, number>();
  for (const delivery of deliveries) counts.set(delivery.endpointId, (counts.get(delivery.endpointId) ?? 0) + 1);
  return [...counts].map(([endpointId, count]) => ({
    endpointId,
    delayMs,
    batches: jobsFor(count),
  }));
}

/** One wake-up per distinct due time (at RETRY_WAKE_RESOLUTION_MS) of the batch's retries, at its latest delay. */
export function retryWakeUps(endpointId: string, outcomes: readonly AttemptOutcome[]): EndpointWakeUp[] {
  const byBucket = new Map<number, number>();
  for (const outcome of outcomes) {
    if (outcome.succeeded || outcome.nextDelayMs === null) continue;
    const bucket = Math.ceil(outcome.nextDelayMs / RETRY_WAKE_RESOLUTION_MS);
    byBucket.set(bucket, Math.max(byBucket.get(bucket) ?? 0, outcome.nextDelayMs));
  }
  return [...byBucket.values()].sort((a, b) => a - b).map((delayMs) => ({ endpointId, delayMs }));
}
