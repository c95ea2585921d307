import { Injectable } from '@nestjs/common';
import type { EntityManager, QueryDeepPartialEntity } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import { paginate, type Page } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { TransactionalConnection } from '../database/transactional-connection';
import { EventDto, type ListEventsQueryDto } from './dto/webhook.dto';
import { Event } from './event.entity';
import { EVENT_SCHEMA_VERSION, type EventType } from './event-catalog';

/** Payloads stay small: they are delivered to ERPs and listed for 30 days. */
const MAX_PAYLOAD_BYTES = 20_000;

/**
 * Writes events into the outbox in the caller's transaction: the event exists
 * exactly when the change it announces has committed. Payloads carry ids,
 * serials and amounts, never card codes, PINs or personal data.
 */
@Injectable()
export class EventsService {
  constructor(
    private readonly transactions: TransactionService,
    private readonly connection: TransactionalConnection,
  ) {}

  async record(
    ctx: RequestContext,
    event: { enterpriseId: string; type: EventType; data: Record<string, unknown>; relayed?: boolean },
  ): Promise<Event> {
    const size = Buffer.byteLength(JSON.stringify(event.data));
    if (size > MAX_PAYLOAD_BYTES)
      throw new Error(`event ${event.type} payload is ${size} bytes (limit ${MAX_PAYLOAD_BYTES})`);
    const manager = this.connection.transactionManager(ctx, 'EventsService.record');
    const row = manager.create(Event, {
      id: newId('event'),
      enterpriseId: event.enterpriseId,
      type: event.type,
      schemaVersion: EVENT_SCHEMA_VERSION,
      data: event.data,
      // Already relayed: the caller creates its deliveries itself (a ping goes to one endpoint only).
      relayedAt: event.relayed ? new Date() : null,
    });
    // jsonb payloads are plain data; TypeORM's deep-partial type cannot see that.
    await manager.insert(Event, row as QueryDeepPartialEntity<Event>);
    return row;
  }

  /** The caller's enterprise's events, newest first, filtered by type and creation time. */
  async list(ctx: RequestContext, query: ListEventsQueryDto): Promise<Page<EventDto>> {
    const enterpriseId = ctx.enterpriseId;
    return this.transactions.run(ctx, (manager) => {
      const builder = manager
        .createQueryBuilder(Event, 'event')
        .where('event.enterprise_id = :enterpriseId', { enterpriseId });
      if (query.type) builder.andWhere('event.type = :type', { type: query.type });
      if (query.created_gte) builder.andWhere('event.created_at >= :gte', { gte: new Date(query.created_gte) });
      if (query.created_lt) builder.andWhere('event.created_at < :lt', { lt: new Date(query.created_lt) });
      return paginate(builder, query, (event) => EventDto.from(event));
    });
  }

  async get(ctx: RequestContext, id: string): Promise<EventDto> {
    return this.transactions.run(ctx, async (manager) => EventDto.from(await this.find(ctx, manager, id)));
  }

  /** One of the caller's enterprise's events; another tenant's is a 404, as if it did not exist. */
  async find(ctx: RequestContext, manager: EntityManager, id: string): Promise<Event> {
    const enterpriseId = ctx.enterpriseId;
    const event = isId('event', id) ? await manager.findOneBy(Event, { id, enterpriseId }) : null;
    if (!event) throw ApiError.notFound('event', id);
    return event;
  }
}
