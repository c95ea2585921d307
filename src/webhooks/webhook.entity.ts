import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, Unique, UpdateDateColumn } from 'typeorm';

export type EndpointStatus = 'enabled' | 'disabled';
/** Why an endpoint is disabled: by its owner, because it answered 410 Gone, or because it kept failing. */
export type DisabledReason = 'by_client' | 'gone' | 'failing';

/** A client's HTTPS receiver for the events of its enterprise. */
@Entity('webhook_endpoints')
@Index('webhook_endpoints_enterprise', ['enterpriseId', 'id'], { where: 'deleted_at IS NULL' })
@Check('webhook_endpoints_status', `status IN ('enabled', 'disabled')`)
export class WebhookEndpoint {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  url: string;

  @Column('text', { nullable: true })
  description: string | null;

  /** Subscribed types, or ['*'] for every type. */
  @Column('text', { array: true })
  eventTypes: string[];

  @Column('text')
  status: EndpointStatus;

  @Column('text', { nullable: true })
  disabledReason: DisabledReason | null;

  /** The signing secret (`whsec_…`), sealed by DataCipher: it must be readable to sign, so it is not hashed. */
  @Column('text')
  secretSealed: string;

  /** The secret before the last rotation, which keeps signing beside the new one until previousSecretExpiresAt. */
  @Column('text', { nullable: true })
  previousSecretSealed: string | null;

  @Column('timestamptz', { nullable: true })
  previousSecretExpiresAt: Date | null;

  @Column('timestamptz', { nullable: true })
  lastSuccessAt: Date | null;

  /** The first failure since the last success; an endpoint failing for WEBHOOK_DISABLE_AFTER_HOURS is disabled. */
  @Column('timestamptz', { nullable: true })
  failingSince: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;

  /** Deleted endpoints are kept (without deliveries pending) so that their attempts stay auditable. */
  @Column('timestamptz', { nullable: true })
  deletedAt: Date | null;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/**
 * One event for one endpoint: the unit of delivery, retried on its own schedule. The row is the truth about
 * what is due (`next_attempt_at`); queue jobs only wake the worker, so a lost job delays a delivery, never loses it.
 */
@Entity('webhook_deliveries')
@Unique('webhook_deliveries_event_endpoint', ['eventId', 'endpointId'])
@Index('webhook_deliveries_endpoint', ['endpointId', 'id'])
@Index('webhook_deliveries_due', ['nextAttemptAt'], { where: `status = 'pending'` })
// A batch claim reads one endpoint's due deliveries only, whatever other endpoints have pending.
@Index('webhook_deliveries_endpoint_due', ['endpointId', 'nextAttemptAt'], { where: `status = 'pending'` })
@Check('webhook_deliveries_status', `status IN ('pending', 'delivered', 'failed')`)
export class WebhookDelivery {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  eventId: string;

  @Column('text')
  endpointId: string;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  status: DeliveryStatus;

  /** Attempts claimed so far (the next one is attempts + 1). */
  @Column('integer', { default: 0 })
  attempts: number;

  /** `attempts` when it was last replayed by hand: the retry schedule starts over from there. */
  @Column('integer', { default: 0 })
  retryBase: number;

  /** When the next attempt is due; while an attempt runs, when it counts as lost. Null once final. */
  @Column('timestamptz', { nullable: true })
  nextAttemptAt: Date | null;

  @Column('timestamptz', { nullable: true })
  deliveredAt: Date | null;

  /** Why it stopped without success: retries_exhausted, endpoint_disabled, endpoint_deleted. */
  @Column('text', { nullable: true })
  failureReason: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}

/** One HTTP request to an endpoint, as it went: what came back, how long it took. */
@Entity('webhook_attempts')
@Index('webhook_attempts_endpoint', ['endpointId', 'id'])
@Index('webhook_attempts_delivery', ['deliveryId'])
export class WebhookAttempt {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  deliveryId: string;

  @Column('text')
  endpointId: string;

  @Column('text')
  eventId: string;

  @Column('integer')
  attemptNo: number;

  /** HTTP status; null when no response came (timeout, refused connection, blocked address). */
  @Column('integer', { nullable: true })
  responseStatus: number | null;

  /** The first 1 KB of the response body. */
  @Column('text', { nullable: true })
  responseBody: string | null;

  /** timeout, connection_failed, address_blocked, …; null when a response came. */
  @Column('text', { nullable: true })
  error: string | null;

  @Column('integer')
  latencyMs: number;

  @Column('boolean')
  succeeded: boolean;

  /** When the next attempt is scheduled; null when this was the last. */
  @Column('timestamptz', { nullable: true })
  nextAttemptAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
