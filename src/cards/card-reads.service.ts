import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { CardErrors } from './card-errors';
import { isId } from '../common/ids';
import { Order } from '../orders/order.entity';
import { isValidSerial } from '../issuance/card-code';
import { BatchDto, CardDto, type CardPageDto, type ListCardsQueryDto } from '../issuance/dto/issuance.dto';
import { IssuanceBatch } from '../issuance/issuance.entity';
import { Card } from './card.entity';

/** Reading batches and cards; tenants see only their own (another tenant's id is a 404). */
@Injectable()
export class CardReadsService {
  constructor(private readonly dataSource: DataSource) {}

  async batch(ctx: RequestContext, id: string): Promise<BatchDto> {
    if (!isId('batch', id)) throw ApiError.notFound('batch', id);
    const batch = await this.dataSource.manager.findOneBy(IssuanceBatch, {
      id,
      ...(ctx.isOperator ? {} : { enterpriseId: ctx.enterpriseId }),
    });
    if (!batch) throw ApiError.notFound('batch', id);
    return BatchDto.from(batch);
  }

  async batchesOf(orderId: string): Promise<BatchDto[]> {
    const batches = await this.dataSource.manager.find(IssuanceBatch, { where: { orderId }, order: { lineNo: 'ASC' } });
    return batches.map((batch) => BatchDto.from(batch));
  }

  async cardsOf(ctx: RequestContext, orderId: string, query: ListCardsQueryDto): Promise<CardPageDto> {
    if (!isId('order', orderId)) throw ApiError.notFound('order', orderId);
    const owned = await this.dataSource.manager.existsBy(Order, { id: orderId, enterpriseId: ctx.enterpriseId });
    if (!owned) throw ApiError.notFound('order', orderId);
    const limit = query.limit ?? 100;
    const builder = this.dataSource
      .getRepository(Card)
      .createQueryBuilder('card')
      .where('card.orderId = :orderId', { orderId })
      .orderBy('card.serial', 'ASC')
      .limit(limit + 1);
    if (query.starting_after !== undefined) builder.andWhere('card.serial > :after', { after: query.starting_after });
    const rows = await builder.getMany();
    const data = rows.slice(0, limit).map((card) => CardDto.from(card));
    const hasMore = rows.length > limit;
    return { object: 'list', data, has_more: hasMore, next_cursor: hasMore ? data[data.length - 1].serial : null };
  }

  async card(ctx: RequestContext, serial: string): Promise<CardDto> {
    // A serial that fails its check digit cannot exist: no database read.
    if (!isValidSerial(serial)) throw CardErrors.notFound(serial);
    const card = await this.dataSource
      .getRepository(Card)
      .createQueryBuilder('card')
      .innerJoin(Order, 'order', 'order.id = card.orderId')
      .where('card.serial = :serial', { serial })
      .andWhere('order.enterpriseId = :enterpriseId', { enterpriseId: ctx.enterpriseId })
      .getOne();
    if (!card) throw CardErrors.notFound(serial);
    return CardDto.from(card);
  }
}
