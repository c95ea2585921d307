import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { EventDto, type ListEventsQueryDto } from './dto/event.dto';
import type { Event } from './event.entity';
import type { EventType } from './event-catalog';
import { EventsRepository } from './events.repository';

/**
 * Writes events into the outbox in the caller's transaction: the event exists
 * exactly when the change it announces has committed. Payloads carry ids,
 * serials and amounts, never card codes, PINs or personal data.
 */
@Injectable()
export class EventsService {
  constructor(
    private readonly transactions: TransactionService,
    private readonly repository: EventsRepository,
  ) {}

  record(
    ctx: RequestContext,
    event: { enterpriseId: string; type: EventType; data: Record<string, unknown>; relayed?: boolean },
  ): Promise<Event> {
    return this.repository.insert(ctx, event);
  }

  /** The caller's enterprise's events, newest first, filtered by type and creation time. */
  async list(ctx: RequestContext, query: ListEventsQueryDto): Promise<Page<EventDto>> {
    const enterpriseId = ctx.enterpriseId;
    const page = await this.transactions.run(ctx, () => this.repository.list(ctx, enterpriseId, query));
    return { ...page, data: page.data.map((event) => EventDto.from(event)) };
  }

  async get(ctx: RequestContext, id: string): Promise<EventDto> {
    return EventDto.from(await this.find(ctx, id));
  }

  /** One of the caller's enterprise's events; another tenant's is a 404, as if it did not exist. */
  async find(ctx: RequestContext, id: string): Promise<Event> {
    const enterpriseId = ctx.enterpriseId;
    const event = isId('event', id) ? await this.repository.findOfEnterprise(ctx, id, enterpriseId) : null;
    if (!event) throw ApiError.notFound('event', id);
    return event;
  }
}
