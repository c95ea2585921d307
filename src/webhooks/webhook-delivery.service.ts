import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { OnJob } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { QueueService, type AddJobOptions } from '../queue/queue.service';
import { EventDto } from './dto/webhook.dto';
import type { Event } from './event.entity';
import { EventsService } from './events.service';
import { WebhookMetrics } from './webhook-metrics';
import { WebhookSender, type SendResult } from './webhook-sender';
import { RETRY_AFTER_STATUSES, nextAttemptDelay, parseRetryAfter, signatureHeader } from './webhook-signing';
import type { DisabledReason } from './webhook.entity';

/** Events relayed per transaction. */
const RELAY_BATCH = 500;
/** A claimed attempt that has not reported back this long after its timeout is taken as lost (worker died). */
const ATTEMPT_LEASE_MARGIN_MS = 15_000;
/** A delivery due this long without being claimed gets its job again from the sweep. */
const OVERDUE_AFTER_MS = 10_000;
const SWEEP_EVERY_MS = 10_000;
const SWEEP_BATCH = 1_000;
const SWEEP_SCHEDULER = 'webhook-delivery-sweep';
/** A job may fire a little before the row says it is due (clock skew between processes). */
const EARLY_TOLERANCE_MS = 2_000;
/** last_success_at is refreshed at most this often, so that a busy endpoint's row is not written per delivery. */
const SUCCESS_STAMP_RESOLUTION_S = 10;

const INSERT_ATTEMPT = `INSERT INTO webhook_attempts
    (id, delivery_id, endpoint_id, event_id, attempt_no, response_status, response_body, error, latency_ms, succeeded,
     next_attempt_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + $11 * interval '1 millisecond')`;

/** The secret-name prefix of DataCipher contexts: a sealed secret cannot be moved to another endpoint. */
export const secretContext = (endpointId: string) => `webhook_endpoints.secret:${endpointId}`;

export interface DeliveryToSchedule {
  id: string;
  /** The attempt the job is for (attempts made so far + 1). */
  attempt: number;
  delayMs?: number;
  /** A manual replay: a fresh job id, so that an already delayed job of the same attempt does not absorb it. */
  manual?: boolean;
}

interface ClaimedDelivery {
  id: string;
  attempts: number;
  retry_base: number;
  endpoint_id: string;
  event_id: string;
  url: string;
  endpoint_status: string;
  deleted_at: Date | null;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
  type: string;
  schema_version: number;
  enterprise_id: string;
  data: Record<string, unknown>;
  event_created_at: Date;
}

/**
 * Gets committed events to the endpoints that want them, at least once:
 *
 * 1. Relay (worker processes): a loop takes unrelayed outbox rows with FOR UPDATE SKIP LOCKED (several workers
 *    share the work), creates one delivery row per subscribed endpoint and marks the events relayed, in one
 *    transaction; then enqueues one `deliver-webhook` job per delivery.
 * 2. Delivery: each job claims its attempt with a conditional update (a duplicate or stale job claims nothing),
 *    POSTs outside any transaction, then records the attempt and the delivery's next state in one transaction
 *    and enqueues the next attempt, delayed by the retry schedule.
 * 3. Sweep: the delivery rows are the truth about what is due; every few seconds the deliveries that are overdue
 *    (their job was lost between commit and enqueue, or their worker died mid-attempt) get their job again.
 */
@Injectable()
export class WebhookDeliveryService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDeliveryService.name);
  private relayLoop: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  /** Sealed secret → secret, so that a busy endpoint's secret is not decrypted per delivery. */
  private readonly secrets = new Map<string, string>();

  constructor(
    private readonly dataSource: DataSource,
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
    const schedule = this.config.webhookRetrySchedule;
    const { events, deliveries } = await this.dataSource.transaction(async (manager) => {
      const events = await manager.query<Array<{ id: string; enterprise_id: string; type: string }>>(
        `SELECT id, enterprise_id, type FROM events WHERE relayed_at IS NULL
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [RELAY_BATCH],
      );
      if (events.length === 0) return { events, deliveries: [] };
      const enterprises = [...new Set(events.map((event) => event.enterprise_id))];
      const endpoints = await manager.query<Array<{ id: string; enterprise_id: string; event_types: string[] }>>(
        `SELECT id, enterprise_id, event_types FROM webhook_endpoints
         WHERE enterprise_id = ANY($1) AND status = 'enabled' AND deleted_at IS NULL ORDER BY id`,
        [enterprises],
      );
      const deliveries: Array<{ id: string; eventId: string; endpointId: string; enterpriseId: string }> = [];
      for (const event of events) {
        for (const endpoint of endpoints) {
          if (endpoint.enterprise_id !== event.enterprise_id || !subscribes(endpoint.event_types, event.type)) continue;
          deliveries.push({
            id: newId('webhookDelivery'),
            eventId: event.id,
            endpointId: endpoint.id,
            enterpriseId: event.enterprise_id,
          });
        }
      }
      if (deliveries.length > 0) {
        await manager.query(
          `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, enterprise_id, status, attempts, next_attempt_at)
           SELECT d.id, d.event_id, d.endpoint_id, d.enterprise_id, 'pending', 0, now() + $5 * interval '1 millisecond'
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS d(id, event_id, endpoint_id, enterprise_id)
           ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
          [
            deliveries.map((d) => d.id),
            deliveries.map((d) => d.eventId),
            deliveries.map((d) => d.endpointId),
            deliveries.map((d) => d.enterpriseId),
            schedule[0],
          ],
        );
      }
      await manager.query('UPDATE events SET relayed_at = now() WHERE id = ANY($1)', [events.map((e) => e.id)]);
      return { events, deliveries };
    });
    // After commit. Lost here (crash, queue backend down), the sweep enqueues them once they are overdue.
    await this.schedule(deliveries.map((delivery) => ({ id: delivery.id, attempt: 1, delayMs: schedule[0] })));
    return events.length;
  }

  /** Enqueues the jobs of deliveries whose rows say they are due (after the rows have committed). */
  async schedule(deliveries: readonly DeliveryToSchedule[]): Promise<void> {
    for (let i = 0; i < deliveries.length; i += SWEEP_BATCH) {
      await this.queues.addBulk(
        JobName.DeliverWebhook,
        deliveries.slice(i, i + SWEEP_BATCH).map((delivery) => {
          const options: AddJobOptions = {
            jobId: `${delivery.id}-${delivery.attempt}${delivery.manual ? `-m${Date.now()}` : ''}`,
            delay: delivery.delayMs,
            forgetWhenDone: true,
          };
          return { payload: { deliveryId: delivery.id, attempt: delivery.attempt }, options };
        }),
      );
    }
  }

  @OnJob(JobName.SweepWebhookDeliveries)
  async sweep(): Promise<void> {
    const overdue = await this.dataSource.query<Array<{ id: string; attempts: number }>>(
      `SELECT id, attempts FROM webhook_deliveries
       WHERE status = 'pending' AND next_attempt_at < now() - $1 * interval '1 millisecond'
       ORDER BY next_attempt_at LIMIT $2`,
      [OVERDUE_AFTER_MS, SWEEP_BATCH],
    );
    if (overdue.length === 0) return;
    this.logger.log({ msg: 'enqueueing overdue webhook deliveries', count: overdue.length });
    await this.schedule(overdue.map((delivery) => ({ id: delivery.id, attempt: delivery.attempts + 1 })));
  }

  @OnJob(JobName.DeliverWebhook)
  async deliver(payload: { deliveryId: string; attempt: number }): Promise<void> {
    const claimed = await this.claim(payload.deliveryId, payload.attempt);
    if (!claimed) return; // a duplicate, stale or early job: the row says another attempt is due
    if (claimed.deleted_at !== null || claimed.endpoint_status !== 'enabled') {
      await this.dataSource.query(
        `UPDATE webhook_deliveries SET status = 'failed', failure_reason = $2, next_attempt_at = NULL
         WHERE id = $1 AND status = 'pending'`,
        [claimed.id, claimed.deleted_at !== null ? 'endpoint_deleted' : 'endpoint_disabled'],
      );
      return;
    }
    const body = JSON.stringify(
      EventDto.from({
        id: claimed.event_id,
        type: claimed.type,
        schemaVersion: claimed.schema_version,
        enterpriseId: claimed.enterprise_id,
        createdAt: claimed.event_created_at,
        data: claimed.data,
      } as Event),
    );
    const timestamp = Math.floor(Date.now() / 1000);
    const secrets = [this.openSecret(claimed.endpoint_id, claimed.secret_sealed)];
    if (claimed.previous_secret_sealed && (claimed.previous_secret_expires_at?.getTime() ?? 0) > Date.now()) {
      secrets.push(this.openSecret(claimed.endpoint_id, claimed.previous_secret_sealed));
    }
    const result = await this.sender.send(claimed.url, body, {
      'webhook-id': claimed.event_id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(claimed.event_id, timestamp, body, secrets),
    });
    await this.recordOutcome(claimed, result);
  }

  /** Takes attempt `attempt` of a due, pending delivery; null when the row does not agree (nothing to do). */
  private async claim(deliveryId: string, attempt: number): Promise<ClaimedDelivery | null> {
    const leaseMs = this.config.WEBHOOK_TIMEOUT_MS + ATTEMPT_LEASE_MARGIN_MS;
    const rows = await this.dataSource.query<ClaimedDelivery[]>(
      `WITH claimed AS (
         UPDATE webhook_deliveries
         SET attempts = attempts + 1, next_attempt_at = now() + $3 * interval '1 millisecond'
         WHERE id = $1 AND status = 'pending' AND attempts = $2 - 1
           AND next_attempt_at <= now() + $4 * interval '1 millisecond'
         RETURNING id, attempts, retry_base, endpoint_id, event_id
       )
       SELECT c.*, w.url, w.status AS endpoint_status, w.deleted_at, w.secret_sealed, w.previous_secret_sealed,
              w.previous_secret_expires_at, e.type, e.schema_version, e.enterprise_id, e.data,
              e.created_at AS event_created_at
       FROM claimed c
       JOIN webhook_endpoints w ON w.id = c.endpoint_id
       JOIN events e ON e.id = c.event_id`,
      [deliveryId, attempt, leaseMs, EARLY_TOLERANCE_MS],
    );
    return rows[0] ?? null;
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
   * The attempt, the delivery's next state and the endpoint's health in one transaction; then the next attempt's
   * job. A 410 disables the endpoint at once; so does failing without a success for WEBHOOK_DISABLE_AFTER_SECONDS.
   */
  private async recordOutcome(claimed: ClaimedDelivery, result: SendResult): Promise<void> {
    const succeeded = 'status' in result && result.status >= 200 && result.status < 300;
    const status = 'status' in result ? result.status : null;
    const retryAfter =
      'status' in result && RETRY_AFTER_STATUSES.has(result.status)
        ? parseRetryAfter(result.retryAfter, Date.now())
        : null;
    const delayMs = succeeded
      ? null
      : nextAttemptDelay(this.config.webhookRetrySchedule, claimed.attempts - claimed.retry_base, retryAfter);
    const attempt = [
      newId('webhookAttempt'),
      claimed.id,
      claimed.endpoint_id,
      claimed.event_id,
      claimed.attempts,
      status,
      'status' in result ? result.body : null,
      'error' in result ? result.error : null,
      result.latencyMs,
      succeeded,
      delayMs,
    ];
    if (succeeded) {
      // The common case in one statement (one round trip, one commit): the attempt, the delivery, and the
      // endpoint's health, which is written only when it changes or its stamp is stale (a busy endpoint's row is
      // not locked by every delivery).
      await this.dataSource.query(
        `WITH attempt AS (${INSERT_ATTEMPT}),
         delivery AS (
           UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), next_attempt_at = NULL
           WHERE id = $2 AND attempts = $5
         )
         UPDATE webhook_endpoints SET last_success_at = now(), failing_since = NULL
         WHERE id = $3 AND (failing_since IS NOT NULL OR last_success_at IS NULL
           OR last_success_at < now() - $12 * interval '1 second')`,
        [...attempt, SUCCESS_STAMP_RESOLUTION_S],
      );
      this.metrics.attempted(true, claimed.event_created_at);
      return;
    }
    let disabled: DisabledReason | null = null;
    const ctx = RequestContext.system();
    await this.transactions.run(ctx, async (manager) => {
      await manager.query(INSERT_ATTEMPT, attempt);
      await manager.query(
        `UPDATE webhook_deliveries
         SET status = CASE WHEN $3::integer IS NULL THEN 'failed' ELSE 'pending' END,
             failure_reason = CASE WHEN $3::integer IS NULL THEN 'retries_exhausted' END,
             next_attempt_at = now() + $3 * interval '1 millisecond'
         WHERE id = $1 AND attempts = $2`,
        [claimed.id, claimed.attempts, delayMs],
      );
      // TypeORM answers an UPDATE … RETURNING with [rows, affected count].
      const [[endpoint]] = await manager.query<[Array<{ failing_too_long: boolean }>, number]>(
        `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now()) WHERE id = $1
         RETURNING failing_since < now() - $2 * interval '1 second' AS failing_too_long`,
        [claimed.endpoint_id, this.config.WEBHOOK_DISABLE_AFTER_SECONDS],
      );
      const reason: DisabledReason | null = status === 410 ? 'gone' : endpoint?.failing_too_long ? 'failing' : null;
      if (reason && (await this.disable(ctx, manager, claimed, reason))) disabled = reason;
    });
    this.metrics.attempted(false, claimed.event_created_at);
    if (disabled) {
      this.logger.warn({ msg: 'webhook endpoint disabled', endpointId: claimed.endpoint_id, reason: disabled });
      return;
    }
    if (delayMs === null) this.metrics.exhausted();
    else await this.schedule([{ id: claimed.id, attempt: claimed.attempts + 1, delayMs }]);
  }

  /** Disables the endpoint (if still enabled), fails its pending deliveries and records endpoint.disabled. */
  private async disable(
    ctx: RequestContext,
    manager: EntityManager,
    claimed: ClaimedDelivery,
    reason: DisabledReason,
  ): Promise<boolean> {
    const [, updated] = await manager.query<[unknown[], number]>(
      `UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2, updated_at = now()
       WHERE id = $1 AND status = 'enabled'`,
      [claimed.endpoint_id, reason],
    );
    if (updated === 0) return false;
    await manager.query(
      `UPDATE webhook_deliveries SET status = 'failed', failure_reason = 'endpoint_disabled', next_attempt_at = NULL
       WHERE endpoint_id = $1 AND status = 'pending'`,
      [claimed.endpoint_id],
    );
    await this.events.record(ctx, {
      enterpriseId: claimed.enterprise_id,
      type: 'endpoint.disabled',
      data: { endpoint_id: claimed.endpoint_id, url: claimed.url, reason },
    });
    await this.audit.record(ctx, {
      action: 'webhook_endpoint.disabled',
      objectType: 'webhook_endpoint',
      objectId: claimed.endpoint_id,
      enterpriseId: claimed.enterprise_id,
      summary: { reason, last_status: reason === 'gone' ? 410 : null },
    });
    return true;
  }
}

/** Whether an endpoint's subscription covers an event type (pings never get here: they go to one endpoint). */
export function subscribes(eventTypes: readonly string[], type: string): boolean {
  return eventTypes.includes(type) || eventTypes.includes('*');
}
