import { Injectable } from '@nestjs/common';
import { In } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';
import { type ListQueryDto, type Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { SealedColumnQueries } from '../database/sealed-column-sql';
import { TransactionalConnection } from '../database/transactional-connection';
import { eventJoinSql } from '../events/events.repository';
import { WebhookAttempt, WebhookDelivery, WebhookEndpoint, type DisabledReason } from './webhook.entity';

export type NewWebhookEndpoint = Omit<WebhookEndpoint, 'createdAt' | 'updatedAt'>;

export interface NewDelivery {
  id: string;
  eventId: string;
  endpointId: string;
  enterpriseId: string;
}

/** A due delivery taken for one attempt, with what signing and sending it need. */
export interface ClaimedDelivery {
  id: string;
  /** The attempt now running (attempts made, this one included). */
  attempts: number;
  retryBase: number;
  eventId: string;
  url: string;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
  event: {
    type: string;
    schemaVersion: number;
    enterpriseId: string;
    data: Record<string, unknown>;
    createdAt: Date;
  };
}

/** What one attempt came to, recorded with the others of its batch. */
export interface AttemptOutcome {
  attemptId: string;
  deliveryId: string;
  eventId: string;
  attemptNo: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  latencyMs: number;
  succeeded: boolean;
  /** Wait before the next attempt; null when there is none (delivered, or the schedule is used up). */
  nextDelayMs: number | null;
}

interface ClaimedRow {
  id: string;
  attempts: number;
  retry_base: number;
  event_id: string;
  url: string;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
  event_type: string;
  event_schema_version: number;
  event_enterprise_id: string;
  event_data: Record<string, unknown>;
  event_created_at: Date;
}

/**
 * The webhooks module's tables: webhook_endpoints, webhook_deliveries and webhook_attempts. The delivery rows are
 * the truth about what is due; the batch claim and the batch record are one statement each (the round-trip budget
 * of docs/decisions/0004-batched-webhook-delivery.md: webhook bookkeeping ≤ 2 statements per batch).
 */
@Injectable()
export class WebhooksRepository {
  /** Key rotation's census, page and reseal of the endpoints' sealed secrets (src/data-keys/sealed-columns.ts). */
  readonly sealedColumns: SealedColumnQueries;

  constructor(private readonly connection: TransactionalConnection) {
    this.sealedColumns = new SealedColumnQueries(connection, ['webhook_endpoints']);
  }

  // ------------------------------------------------------------------ endpoints

  /** Serialises endpoint creations of one enterprise until the transaction ends (the per-enterprise limit). */
  async lockEnterpriseEndpoints(ctx: RequestContext, enterpriseId: string): Promise<void> {
    this.connection.transactionManager(ctx, 'WebhooksRepository.lockEnterpriseEndpoints');
    await this.connection.query(ctx, 'SELECT pg_advisory_xact_lock(hashtext($1))', [
      `webhook_endpoints:${enterpriseId}`,
    ]);
  }

  async countLiveEndpoints(ctx: RequestContext, enterpriseId: string): Promise<number> {
    return this.connection
      .manager(ctx)
      .createQueryBuilder(WebhookEndpoint, 'endpoint')
      .where('endpoint.enterprise_id = :enterpriseId AND endpoint.deleted_at IS NULL', { enterpriseId })
      .getCount();
  }

  async insertEndpoint(ctx: RequestContext, endpoint: NewWebhookEndpoint): Promise<WebhookEndpoint> {
    const manager = this.connection.manager(ctx);
    await manager.insert(WebhookEndpoint, endpoint);
    return manager.findOneByOrFail(WebhookEndpoint, { id: endpoint.id });
  }

  /** An endpoint of the enterprise (deleted ones included: the caller decides), optionally locked for update. */
  async findEndpoint(
    ctx: RequestContext,
    id: string,
    enterpriseId: string,
    lock = false,
  ): Promise<WebhookEndpoint | null> {
    return this.connection.manager(ctx).findOne(WebhookEndpoint, {
      where: { id, enterpriseId },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  async listEndpoints(ctx: RequestContext, enterpriseId: string, query: ListQueryDto): Promise<Page<WebhookEndpoint>> {
    return paginate(
      this.connection
        .manager(ctx)
        .createQueryBuilder(WebhookEndpoint, 'endpoint')
        .where('endpoint.enterprise_id = :enterpriseId AND endpoint.deleted_at IS NULL', { enterpriseId }),
      query,
      (endpoint) => endpoint,
    );
  }

  async saveEndpoint(ctx: RequestContext, endpoint: WebhookEndpoint): Promise<WebhookEndpoint> {
    return this.connection.manager(ctx).save(endpoint);
  }

  async markEndpointDeleted(ctx: RequestContext, id: string): Promise<void> {
    await this.connection.manager(ctx).update(WebhookEndpoint, { id }, { deletedAt: new Date(), status: 'disabled' });
  }

  /** The enabled, live endpoints of these enterprises, by id. */
  async enabledEndpointsOf(ctx: RequestContext, enterpriseIds: readonly string[]): Promise<WebhookEndpoint[]> {
    if (enterpriseIds.length === 0) return [];
    return this.connection
      .manager(ctx)
      .createQueryBuilder(WebhookEndpoint, 'endpoint')
      .where("endpoint.enterprise_id IN (:...enterpriseIds) AND endpoint.status = 'enabled'", { enterpriseIds })
      .andWhere('endpoint.deleted_at IS NULL')
      .orderBy('endpoint.id')
      .getMany();
  }

  /** Disables an endpoint that is still enabled; false when it already was not. */
  async disableEndpoint(ctx: RequestContext, id: string, reason: DisabledReason): Promise<boolean> {
    const [, updated] = await this.connection.query<[unknown[], number]>(
      ctx,
      `UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2, updated_at = now()
       WHERE id = $1 AND status = 'enabled'`,
      [id, reason],
    );
    return updated > 0;
  }

  // ------------------------------------------------------------------ deliveries

  /** Every pending delivery of the endpoint fails for good (it was disabled or deleted). */
  async failPendingDeliveries(ctx: RequestContext, endpointId: string, reason: string): Promise<void> {
    await this.connection.query(
      ctx,
      `UPDATE webhook_deliveries SET status = 'failed', failure_reason = $2, next_attempt_at = NULL
       WHERE endpoint_id = $1 AND status = 'pending'`,
      [endpointId, reason],
    );
  }

  /** New deliveries due in `delayMs`; a delivery that exists already for its (event, endpoint) is left alone. */
  async insertDeliveries(ctx: RequestContext, deliveries: readonly NewDelivery[], delayMs: number): Promise<void> {
    if (deliveries.length === 0) return;
    await this.connection.query(
      ctx,
      `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, enterprise_id, status, attempts, next_attempt_at)
       SELECT d.id, d.event_id, d.endpoint_id, d.enterprise_id, 'pending', 0, now() + $5 * interval '1 millisecond'
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS d(id, event_id, endpoint_id, enterprise_id)
       ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
      [
        deliveries.map((d) => d.id),
        deliveries.map((d) => d.eventId),
        deliveries.map((d) => d.endpointId),
        deliveries.map((d) => d.enterpriseId),
        delayMs,
      ],
    );
  }

  /** One delivery due now (a test ping), as stored. */
  async insertDueDelivery(ctx: RequestContext, delivery: NewDelivery): Promise<WebhookDelivery> {
    const manager = this.connection.manager(ctx);
    await manager.insert(WebhookDelivery, {
      ...delivery,
      status: 'pending',
      attempts: 0,
      retryBase: 0,
      nextAttemptAt: new Date(),
      deliveredAt: null,
      failureReason: null,
    });
    return manager.findOneByOrFail(WebhookDelivery, { id: delivery.id });
  }

  /** The endpoint's deliveries that failed for good since `since`, pending again with a fresh retry schedule. */
  async requeueFailedDeliveries(ctx: RequestContext, endpointId: string, since: Date): Promise<number> {
    const [rows] = await this.connection.query<[Array<{ id: string }>, number]>(
      ctx,
      `UPDATE webhook_deliveries
       SET status = 'pending', failure_reason = NULL, retry_base = attempts, next_attempt_at = now()
       WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2
       RETURNING id`,
      [endpointId, since],
    );
    return rows.length;
  }

  /**
   * The event's delivery to each endpoint, due now with a fresh retry schedule: a new row, or the existing one
   * (whatever its state) pending again. Returned by endpoint id.
   */
  async upsertDueDeliveries(
    ctx: RequestContext,
    event: { id: string; enterpriseId: string },
    deliveries: ReadonlyArray<{ id: string; endpointId: string }>,
  ): Promise<WebhookDelivery[]> {
    const upserted = await this.connection.query<Array<{ id: string }>>(
      ctx,
      `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, enterprise_id, status, attempts, next_attempt_at)
       SELECT d.id, $2, d.endpoint_id, $3, 'pending', 0, now()
       FROM unnest($1::text[], $4::text[]) AS d(id, endpoint_id)
       ON CONFLICT (event_id, endpoint_id) DO UPDATE
       SET status = 'pending', failure_reason = NULL, delivered_at = NULL,
           retry_base = webhook_deliveries.attempts, next_attempt_at = now()
       RETURNING id`,
      [deliveries.map((d) => d.id), event.id, event.enterpriseId, deliveries.map((d) => d.endpointId)],
    );
    return this.connection.manager(ctx).find(WebhookDelivery, {
      where: { id: In(upserted.map((row) => row.id)) },
      order: { endpointId: 'ASC' },
    });
  }

  /** Endpoints with deliveries pending and due for longer than `overdueMs` (their wake-up was lost), and how many. */
  async overdueEndpoints(
    ctx: RequestContext,
    overdueMs: number,
    limit: number,
  ): Promise<Array<{ endpointId: string; overdue: number }>> {
    const rows = await this.connection.query<Array<{ endpoint_id: string; overdue: number }>>(
      ctx,
      `SELECT endpoint_id, count(*)::int AS overdue FROM (
         SELECT endpoint_id FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at < now() - $1 * interval '1 millisecond'
         ORDER BY next_attempt_at LIMIT $2
       ) overdue GROUP BY endpoint_id ORDER BY endpoint_id`,
      [overdueMs, limit],
    );
    return rows.map((row) => ({ endpointId: row.endpoint_id, overdue: row.overdue }));
  }

  /**
   * One statement: takes up to `limit` due deliveries of one endpoint (FOR UPDATE SKIP LOCKED, so concurrent
   * batches for the endpoint take disjoint rows), counts the attempt and leases it until `leaseMs` from now (a
   * worker that dies mid-batch leaves rows that fall due again). When the endpoint is disabled or deleted, the due
   * deliveries fail for good instead and nothing is returned.
   */
  async claimDueDeliveries(
    ctx: RequestContext,
    endpointId: string,
    options: { limit: number; leaseMs: number; earlyToleranceMs: number },
  ): Promise<ClaimedDelivery[]> {
    const event = eventJoinSql('e', 'c.event_id');
    // Prepared (docs/architecture.md): the same text for every batch, parsed once per connection.
    const rows = await this.connection.queryPrepared<ClaimedRow>(
      ctx,
      `WITH endpoint AS (
         SELECT id, url, status = 'enabled' AND deleted_at IS NULL AS live, deleted_at IS NOT NULL AS deleted,
                secret_sealed, previous_secret_sealed, previous_secret_expires_at
         FROM webhook_endpoints WHERE id = $1
       ),
       due AS (
         SELECT id FROM webhook_deliveries
         WHERE endpoint_id = $1 AND status = 'pending' AND next_attempt_at <= now() + $4 * interval '1 millisecond'
         ORDER BY next_attempt_at, id
         LIMIT $2
         FOR UPDATE SKIP LOCKED
       ),
       claimed AS (
         UPDATE webhook_deliveries d
         SET attempts = d.attempts + 1, next_attempt_at = now() + $3 * interval '1 millisecond'
         FROM due, endpoint w
         WHERE d.id = due.id AND w.live
         RETURNING d.id, d.attempts, d.retry_base, d.event_id
       ),
       closed AS (
         UPDATE webhook_deliveries d
         SET status = 'failed', next_attempt_at = NULL,
             failure_reason = CASE WHEN w.deleted THEN 'endpoint_deleted' ELSE 'endpoint_disabled' END
         FROM due, endpoint w
         WHERE d.id = due.id AND NOT w.live
       )
       SELECT c.id, c.attempts, c.retry_base, c.event_id, w.url, w.secret_sealed, w.previous_secret_sealed,
              w.previous_secret_expires_at, ${event.columns}
       FROM claimed c CROSS JOIN endpoint w ${event.join}
       ORDER BY c.id`,
      [endpointId, options.limit, options.leaseMs, options.earlyToleranceMs],
    );
    return rows.map((row) => ({
      id: row.id,
      attempts: row.attempts,
      retryBase: row.retry_base,
      eventId: row.event_id,
      url: row.url,
      secretSealed: row.secret_sealed,
      previousSecretSealed: row.previous_secret_sealed,
      previousSecretExpiresAt: row.previous_secret_expires_at,
      event: {
        type: row.event_type,
        schemaVersion: row.event_schema_version,
        enterpriseId: row.event_enterprise_id,
        data: row.event_data,
        createdAt: row.event_created_at,
      },
    }));
  }

  /**
   * One statement: every attempt row of the batch, each delivery's next state (delivered, pending for the next
   * attempt, or failed with retries exhausted; a delivery whose lease was taken over by a later attempt is left
   * to that attempt), and the endpoint's health: after a success `last_success_at` (written only when stale or
   * after failures, so a busy endpoint's row is not written per batch), after failures only `failing_since`.
   * Answers whether the endpoint has been failing longer than `disableAfterS` without a success.
   */
  async recordOutcomes(
    ctx: RequestContext,
    endpointId: string,
    outcomes: readonly AttemptOutcome[],
    options: { successStampResolutionS: number; disableAfterS: number },
  ): Promise<{ failingTooLong: boolean }> {
    if (outcomes.length === 0) return { failingTooLong: false };
    const anySucceeded = outcomes.some((outcome) => outcome.succeeded);
    const [row] = await this.connection.queryPrepared<{ failing_too_long: boolean }>(
      ctx,
      `WITH outcome AS (
         SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::text[], $8::text[],
                              $9::int[], $10::boolean[], $11::int[])
           AS o(attempt_id, delivery_id, event_id, attempt_no, response_status, response_body, error, latency_ms,
                succeeded, delay_ms)
       ),
       attempts AS (
         INSERT INTO webhook_attempts
           (id, delivery_id, endpoint_id, event_id, attempt_no, response_status, response_body, error, latency_ms,
            succeeded, next_attempt_at)
         SELECT attempt_id, delivery_id, $1, event_id, attempt_no, response_status, response_body, error, latency_ms,
                succeeded, now() + delay_ms * interval '1 millisecond'
         FROM outcome
       ),
       deliveries AS (
         UPDATE webhook_deliveries d
         SET status = CASE WHEN o.succeeded THEN 'delivered' WHEN o.delay_ms IS NULL THEN 'failed' ELSE 'pending' END,
             delivered_at = CASE WHEN o.succeeded THEN now() ELSE d.delivered_at END,
             failure_reason = CASE WHEN NOT o.succeeded AND o.delay_ms IS NULL THEN 'retries_exhausted' END,
             next_attempt_at = CASE WHEN o.succeeded THEN NULL ELSE now() + o.delay_ms * interval '1 millisecond' END
         FROM outcome o
         WHERE d.id = o.delivery_id AND d.attempts = o.attempt_no
       ),
       endpoint AS (
         UPDATE webhook_endpoints
         SET last_success_at = CASE WHEN $12::boolean THEN now() ELSE last_success_at END,
             failing_since = CASE WHEN $12::boolean THEN NULL ELSE COALESCE(failing_since, now()) END
         WHERE id = $1 AND CASE WHEN $12::boolean
           THEN failing_since IS NOT NULL OR last_success_at IS NULL
             OR last_success_at < now() - $13 * interval '1 second'
           ELSE failing_since IS NULL END
       )
       SELECT COALESCE((SELECT failing_since < now() - $14 * interval '1 second'
                        FROM webhook_endpoints WHERE id = $1 AND NOT $12::boolean), false) AS failing_too_long`,
      [
        endpointId,
        outcomes.map((o) => o.attemptId),
        outcomes.map((o) => o.deliveryId),
        outcomes.map((o) => o.eventId),
        outcomes.map((o) => o.attemptNo),
        outcomes.map((o) => o.responseStatus),
        outcomes.map((o) => o.responseBody),
        outcomes.map((o) => o.error),
        outcomes.map((o) => o.latencyMs),
        outcomes.map((o) => o.succeeded),
        outcomes.map((o) => o.nextDelayMs),
        anySucceeded,
        options.successStampResolutionS,
        options.disableAfterS,
      ],
    );
    return { failingTooLong: row?.failing_too_long === true };
  }

  /** Pending deliveries: never attempted since their (re)start, and waiting for a retry. */
  async backlog(ctx: RequestContext): Promise<{ due: number; retrying: number }> {
    const [row] = await this.connection.query<Array<{ due: number; retrying: number }>>(
      ctx,
      `SELECT count(*) FILTER (WHERE attempts = retry_base)::int AS due,
              count(*) FILTER (WHERE attempts > retry_base)::int AS retrying
       FROM webhook_deliveries WHERE status = 'pending'`,
    );
    return row;
  }

  // ------------------------------------------------------------------ attempts

  async listAttempts(
    ctx: RequestContext,
    endpointId: string,
    query: ListQueryDto & { event_id?: string; succeeded?: string },
  ): Promise<Page<WebhookAttempt>> {
    const builder = this.connection
      .manager(ctx)
      .createQueryBuilder(WebhookAttempt, 'attempt')
      .where('attempt.endpoint_id = :endpointId', { endpointId });
    if (query.event_id) builder.andWhere('attempt.event_id = :eventId', { eventId: query.event_id });
    if (query.succeeded) builder.andWhere('attempt.succeeded = :succeeded', { succeeded: query.succeeded === 'true' });
    return paginate(builder, query, (attempt) => attempt);
  }
}
