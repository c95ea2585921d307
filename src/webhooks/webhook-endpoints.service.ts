import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import {
  WebhookAttemptDto,
  WebhookDeliveryDto,
  WebhookEndpointDto,
  type CreateWebhookEndpointDto,
  type DeletedWebhookEndpointDto,
  type ListAttemptsQueryDto,
  type RecoverWebhookEndpointDto,
  type RedeliverEventDto,
  type RedeliveryDto,
  type RotateWebhookSecretDto,
  type UpdateWebhookEndpointDto,
  type WebhookEndpointWithSecretDto,
  type WebhookRecoveryDto,
} from './dto/webhook.dto';
import { isEventType } from '../events/event-catalog';
import { EventsService } from '../events/events.service';
import { jobsFor, secretContext, subscribes, WebhookDeliveryService } from './webhook-delivery.service';
import { newWebhookSecret } from './webhook-signing';
import { WebhookUrlPolicy } from './webhook-url.policy';
import type { WebhookEndpoint } from './webhook.entity';
import { WebhooksRepository } from './webhooks.repository';

/** Endpoints per enterprise: enough for every environment and system of a client, few enough to fan out cheaply. */
export const MAX_ENDPOINTS_PER_ENTERPRISE = 20;
const DEFAULT_SECRET_GRACE_SECONDS = 86_400;
/** Recovery looks back at most this far (events are kept at least 30 days). */
const MAX_RECOVERY_DAYS = 30;

/**
 * Webhook endpoints of the caller's enterprise (scope webhooks:manage): register, change, delete, rotate the
 * signing secret, send a test ping, list attempts, and replay failed deliveries. Another tenant's endpoint is
 * a 404, as if it did not exist.
 */
@Injectable()
export class WebhookEndpointsService {
  constructor(
    private readonly repository: WebhooksRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    private readonly cipher: DataCipher,
    private readonly urls: WebhookUrlPolicy,
    private readonly events: EventsService,
    private readonly deliveries: WebhookDeliveryService,
  ) {}

  async create(ctx: RequestContext, dto: CreateWebhookEndpointDto): Promise<WebhookEndpointWithSecretDto> {
    const enterpriseId = ctx.enterpriseId;
    const eventTypes = checkEventTypes(dto.event_types);
    const url = await this.urls.check(dto.url);
    return this.transactions.run(ctx, async () => {
      // Serialises creations per enterprise so that the limit holds under concurrent requests.
      await this.repository.lockEnterpriseEndpoints(ctx, enterpriseId);
      const live = await this.repository.countLiveEndpoints(ctx, enterpriseId);
      if (live >= MAX_ENDPOINTS_PER_ENTERPRISE) {
        throw ApiError.unprocessable(
          'too_many_webhook_endpoints',
          `An enterprise has at most ${MAX_ENDPOINTS_PER_ENTERPRISE} webhook endpoints; delete one first`,
        );
      }
      const id = newId('webhookEndpoint');
      const secret = newWebhookSecret();
      const enabled = dto.enabled ?? true;
      const endpoint = await this.repository.insertEndpoint(ctx, {
        id,
        enterpriseId,
        url,
        description: dto.description ?? null,
        eventTypes,
        status: enabled ? 'enabled' : 'disabled',
        disabledReason: enabled ? null : 'by_client',
        secretSealed: this.cipher.encrypt(secret, secretContext(id)),
        previousSecretSealed: null,
        previousSecretExpiresAt: null,
        lastSuccessAt: null,
        failingSince: null,
        deletedAt: null,
      });
      const view = WebhookEndpointDto.from(endpoint);
      await this.audit.record(ctx, {
        action: 'webhook_endpoint.created',
        objectType: 'webhook_endpoint',
        objectId: id,
        enterpriseId,
        after: view,
        summary: { url, event_types: eventTypes },
      });
      return { ...view, secret };
    });
  }

  async list(
    ctx: RequestContext,
    query: { limit?: number; starting_after?: string },
  ): Promise<Page<WebhookEndpointDto>> {
    const enterpriseId = ctx.enterpriseId;
    const page = await this.repository.listEndpoints(ctx, enterpriseId, query);
    return { ...page, data: page.data.map((endpoint) => WebhookEndpointDto.from(endpoint)) };
  }

  async get(ctx: RequestContext, id: string): Promise<WebhookEndpointDto> {
    return WebhookEndpointDto.from(await this.find(ctx, id));
  }

  async update(ctx: RequestContext, id: string, dto: UpdateWebhookEndpointDto): Promise<WebhookEndpointDto> {
    const eventTypes = dto.event_types === undefined ? undefined : checkEventTypes(dto.event_types);
    const url = dto.url === undefined ? undefined : await this.urls.check(dto.url);
    return this.transactions.run(ctx, async () => {
      const endpoint = await this.find(ctx, id, true);
      const before = WebhookEndpointDto.from(endpoint);
      const changed: string[] = [];
      if (url !== undefined && url !== endpoint.url) {
        endpoint.url = url;
        changed.push('url');
      }
      if (dto.description !== undefined && (dto.description || null) !== endpoint.description) {
        endpoint.description = dto.description || null;
        changed.push('description');
      }
      if (eventTypes !== undefined && eventTypes.join() !== endpoint.eventTypes.join()) {
        endpoint.eventTypes = eventTypes;
        changed.push('event_types');
      }
      if (dto.enabled !== undefined && dto.enabled !== (endpoint.status === 'enabled')) {
        endpoint.status = dto.enabled ? 'enabled' : 'disabled';
        endpoint.disabledReason = dto.enabled ? null : 'by_client';
        // Re-enabled: its failure clock starts again, or the next failure would disable it at once.
        if (dto.enabled) endpoint.failingSince = null;
        changed.push('status');
      }
      if (changed.length === 0) return before;
      const saved = await this.repository.saveEndpoint(ctx, endpoint);
      if (endpoint.status === 'disabled') await this.repository.failPendingDeliveries(ctx, id, 'endpoint_disabled');
      const after = WebhookEndpointDto.from(saved);
      await this.audit.record(ctx, {
        action: 'webhook_endpoint.updated',
        objectType: 'webhook_endpoint',
        objectId: id,
        enterpriseId: endpoint.enterpriseId,
        before,
        after,
        summary: { changed },
      });
      return after;
    });
  }

  async remove(ctx: RequestContext, id: string): Promise<DeletedWebhookEndpointDto> {
    return this.transactions.run(ctx, async () => {
      const endpoint = await this.find(ctx, id, true);
      await this.repository.markEndpointDeleted(ctx, id);
      await this.repository.failPendingDeliveries(ctx, id, 'endpoint_deleted');
      await this.audit.record(ctx, {
        action: 'webhook_endpoint.deleted',
        objectType: 'webhook_endpoint',
        objectId: id,
        enterpriseId: endpoint.enterpriseId,
        before: WebhookEndpointDto.from(endpoint),
      });
      return { object: 'webhook_endpoint', id, deleted: true };
    });
  }

  /** A new secret; the current one keeps signing beside it for the grace period, so receivers can switch over. */
  async rotateSecret(
    ctx: RequestContext,
    id: string,
    dto: RotateWebhookSecretDto,
  ): Promise<WebhookEndpointWithSecretDto> {
    const grace = dto.previous_secret_expires_in ?? DEFAULT_SECRET_GRACE_SECONDS;
    return this.transactions.run(ctx, async () => {
      const endpoint = await this.find(ctx, id, true);
      const secret = newWebhookSecret();
      endpoint.previousSecretSealed = grace > 0 ? endpoint.secretSealed : null;
      endpoint.previousSecretExpiresAt = grace > 0 ? new Date(Date.now() + grace * 1000) : null;
      endpoint.secretSealed = this.cipher.encrypt(secret, secretContext(id));
      const saved = await this.repository.saveEndpoint(ctx, endpoint);
      const view = WebhookEndpointDto.from(saved);
      await this.audit.record(ctx, {
        action: 'webhook_endpoint.secret_rotated',
        objectType: 'webhook_endpoint',
        objectId: id,
        enterpriseId: endpoint.enterpriseId,
        summary: { previous_secret_expires_at: view.previous_secret_expires_at },
      });
      return { ...view, secret };
    });
  }

  /** A `ping` event delivered to this endpoint only (even a disabled one is refused: enable it first). */
  async test(ctx: RequestContext, id: string): Promise<WebhookDeliveryDto> {
    const delivery = await this.transactions.run(ctx, async () => {
      const endpoint = await this.find(ctx, id);
      requireEnabled(endpoint);
      const event = await this.events.record(ctx, {
        enterpriseId: endpoint.enterpriseId,
        type: 'ping',
        data: { endpoint_id: id },
        relayed: true,
      });
      const row = await this.repository.insertDueDelivery(ctx, {
        id: newId('webhookDelivery'),
        eventId: event.id,
        endpointId: id,
        enterpriseId: endpoint.enterpriseId,
      });
      await this.transactions.afterCommit(ctx, () => this.deliveries.schedule([{ endpointId: id }]));
      return row;
    });
    return WebhookDeliveryDto.from(delivery);
  }

  async attempts(ctx: RequestContext, id: string, query: ListAttemptsQueryDto): Promise<Page<WebhookAttemptDto>> {
    await this.find(ctx, id);
    const page = await this.repository.listAttempts(ctx, id, query);
    return { ...page, data: page.data.map((attempt) => WebhookAttemptDto.from(attempt)) };
  }

  /** Every delivery to the endpoint that failed for good since `since` is scheduled again, with a fresh schedule. */
  async recover(ctx: RequestContext, id: string, dto: RecoverWebhookEndpointDto): Promise<WebhookRecoveryDto> {
    const since = new Date(dto.since);
    if (since.getTime() < Date.now() - MAX_RECOVERY_DAYS * 86_400_000) {
      throw ApiError.unprocessable(
        'recovery_window_exceeded',
        `since must be within the last ${MAX_RECOVERY_DAYS} days`,
      );
    }
    return this.transactions.run(ctx, async () => {
      const endpoint = await this.find(ctx, id, true);
      requireEnabled(endpoint);
      const requeued = await this.repository.requeueFailedDeliveries(ctx, id, since);
      if (requeued > 0) {
        const wakeUp = { endpointId: id, batches: jobsFor(requeued) };
        await this.transactions.afterCommit(ctx, () => this.deliveries.schedule([wakeUp]));
      }
      await this.audit.record(ctx, {
        action: 'webhook_endpoint.recovered',
        objectType: 'webhook_endpoint',
        objectId: id,
        enterpriseId: endpoint.enterpriseId,
        summary: { since: since.toISOString(), deliveries_requeued: requeued },
      });
      return {
        object: 'webhook_recovery',
        endpoint_id: id,
        since: since.toISOString(),
        deliveries_requeued: requeued,
      };
    });
  }

  /**
   * Sends an event again: to one endpoint (any enabled one of the enterprise, even one that was not subscribed
   * when the event happened), or to every enabled endpoint subscribed to its type. Each delivery starts a fresh
   * retry schedule; receivers see the same `webhook-id` and deduplicate.
   */
  async redeliver(ctx: RequestContext, eventId: string, dto: RedeliverEventDto): Promise<RedeliveryDto> {
    const rows = await this.transactions.run(ctx, async () => {
      const event = await this.events.find(ctx, eventId);
      let targets: WebhookEndpoint[];
      if (dto.endpoint_id) {
        const endpoint = await this.find(ctx, dto.endpoint_id);
        requireEnabled(endpoint);
        targets = [endpoint];
      } else {
        const enabled = await this.repository.enabledEndpointsOf(ctx, [event.enterpriseId]);
        const pingedEndpoint = event.type === 'ping' ? event.data.endpoint_id : undefined;
        targets = enabled.filter((endpoint) =>
          event.type === 'ping' ? endpoint.id === pingedEndpoint : subscribes(endpoint.eventTypes, event.type),
        );
      }
      if (targets.length === 0) {
        throw ApiError.unprocessable(
          'no_subscribed_endpoints',
          `No enabled webhook endpoint is subscribed to ${event.type}; pass endpoint_id to choose one`,
        );
      }
      const deliveries = await this.repository.upsertDueDeliveries(
        ctx,
        event,
        targets.map((endpoint) => ({ id: newId('webhookDelivery'), endpointId: endpoint.id })),
      );
      const wakeUps = deliveries.map((delivery) => ({ endpointId: delivery.endpointId }));
      await this.transactions.afterCommit(ctx, () => this.deliveries.schedule(wakeUps));
      await this.audit.record(ctx, {
        action: 'event.redelivered',
        objectType: 'event',
        objectId: event.id,
        enterpriseId: event.enterpriseId,
        summary: { endpoint_ids: targets.map((endpoint) => endpoint.id) },
      });
      return deliveries;
    });
    return { object: 'list', data: rows.map((row) => WebhookDeliveryDto.from(row)) };
  }

  private async find(ctx: RequestContext, id: string, lock = false): Promise<WebhookEndpoint> {
    const enterpriseId = ctx.enterpriseId;
    const endpoint = isId('webhookEndpoint', id)
      ? await this.repository.findEndpoint(ctx, id, enterpriseId, lock)
      : null;
    if (!endpoint || endpoint.deletedAt !== null) throw ApiError.notFound('webhook endpoint', id);
    return endpoint;
  }
}

function checkEventTypes(types: string[]): string[] {
  if (types.includes('*')) {
    if (types.length > 1)
      throw ApiError.unprocessable('invalid_event_types', 'event_types is either ["*"] or a list of types');
    return ['*'];
  }
  const unknown = types.filter((type) => !isEventType(type) || type === 'ping');
  if (unknown.length > 0) {
    throw ApiError.unprocessable('unknown_event_type', `Unknown event type: ${unknown.join(', ')}`, { unknown });
  }
  return [...types].sort();
}

function requireEnabled(endpoint: WebhookEndpoint): void {
  if (endpoint.status !== 'enabled') {
    throw ApiError.conflict(
      'webhook_endpoint_disabled',
      'The endpoint is disabled; enable it first (PATCH enabled: true)',
    );
  }
}
