import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId } from '../common/ids';
import { isValidSerial } from '../cards/card-code';
import { IssuanceRepository } from './issuance.repository';
import { BatchDto } from '../orders/dto/batch.dto';
import { CardDto, type CardPageDto, type ListCardsQueryDto } from '../cards/dto/card.dto';
import { OrdersRepository } from '../orders/orders.repository';
import { CardErrors } from '../cards/card-errors';
import { CardsRepository } from '../cards/cards.repository';
import type { Page } from '../common/pagination/pagination';
import type { ListBatchesQueryDto } from './dto/list-batches.dto';

/** Reading batches and cards; tenants see only their own (another tenant's id is a 404). */
@Injectable()
export class IssuanceReadsService {
  constructor(
    private readonly cards: CardsRepository,
    private readonly batches: IssuanceRepository,
    private readonly orders: OrdersRepository,
  ) {}

  async batch(ctx: RequestContext, id: string): Promise<BatchDto> {
    if (!isId('batch', id)) throw ApiError.notFound('batch', id);
    const batch = await this.batches.batch(ctx, id, ctx.isOperator ? null : ctx.enterpriseId);
    if (!batch) throw ApiError.notFound('batch', id);
    return BatchDto.from(batch);
  }

  /** Newest first; a tenant's own batches (the operator's: every enterprise's). */
  async listBatches(ctx: RequestContext, query: ListBatchesQueryDto): Promise<Page<BatchDto>> {
    const page = await this.batches.listBatches(
      ctx,
      {
        enterpriseId: ctx.isOperator ? null : ctx.enterpriseId,
        orderId: query.order_id,
        status: query.status,
        createdGte: query.created_gte,
        createdLt: query.created_lt,
      },
      query,
    );
    const now = Date.now();
    return { ...page, data: page.data.map((batch) => BatchDto.from(batch, now)) };
  }

  async cardsOf(ctx: RequestContext, orderId: string, query: ListCardsQueryDto): Promise<CardPageDto> {
    if (!isId('order', orderId)) throw ApiError.notFound('order', orderId);
    if (!(await this.orders.isOwnedBy(ctx, orderId, ctx.enterpriseId))) throw ApiError.notFound('order', orderId);
    const limit = query.limit ?? 100;
    const rows = await this.cards.pageOfOrder(ctx, orderId, query.starting_after, limit + 1);
    const data = rows.slice(0, limit).map((card) => CardDto.from(card));
    const hasMore = rows.length > limit;
    return { object: 'list', data, has_more: hasMore, next_cursor: hasMore ? data[data.length - 1].serial : null };
  }

  async card(ctx: RequestContext, serial: string): Promise<CardDto> {
    // A serial that fails its check digit cannot exist: no database read.
    if (!isValidSerial(serial)) throw CardErrors.notFound(serial);
    const card = await this.cards.ofEnterprise(ctx, serial, ctx.enterpriseId);
    if (!card) throw CardErrors.notFound(serial);
    return CardDto.from(card);
  }
}
