import { Injectable } from '@nestjs/common';
import { CardsRepository } from '../cards/cards.repository';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId } from '../common/ids';
import { ISSUING_STATUSES } from '../ledger/ledger-invariants';
import { OrdersRepository } from '../orders/orders.repository';
import type { StatementPeriodQueryDto } from './dto/statement.dto';
import {
  REDEMPTION_STATUSES,
  type RedemptionFiguresDto,
  type RedemptionStatusDto,
  type RedemptionSummaryDto,
} from './dto/redemption-summary.dto';
import { parseStatementPeriod } from './statement-period';

const FIGURES = ['cards', 'face_value', 'spent', 'remaining', 'breakage', 'returned', 'moved'] as const;

/**
 * Redemption (核销) status for the ERP: an order's cards, or the cards of the orders paid in a period, by status with
 * their counts and amounts. The cards' figures are the cards module's; which orders, the orders module's.
 */
@Injectable()
export class RedemptionSummaryService {
  constructor(
    private readonly cards: CardsRepository,
    private readonly orders: OrdersRepository,
  ) {}

  /** GET /v1/orders/{id}/redemption-summary: 404 for an order that is not the caller's. */
  async ofOrder(ctx: RequestContext, orderId: string): Promise<RedemptionSummaryDto> {
    if (!isId('order', orderId) || !(await this.orders.isOwnedBy(ctx, orderId, ctx.enterpriseId))) {
      throw ApiError.notFound('order', orderId);
    }
    return this.summary(ctx, [orderId], null);
  }

  /** GET /v1/redemption-summary: the cards of the caller's orders paid in the period. */
  async ofPeriod(ctx: RequestContext, query: StatementPeriodQueryDto): Promise<RedemptionSummaryDto> {
    const period = parseStatementPeriod(query.from, query.to);
    const orderIds = await this.orders.paidBetween(ctx, ctx.enterpriseId, period.from, period.to, [
      'paid',
      ...ISSUING_STATUSES,
    ]);
    return this.summary(ctx, orderIds, period);
  }

  private async summary(
    ctx: RequestContext,
    orderIds: string[],
    period: { from: Date; to: Date } | null,
  ): Promise<RedemptionSummaryDto> {
    const rows = await this.cards.redemptionSummary(ctx, orderIds);
    const byStatus: RedemptionStatusDto[] = rows
      .map((row) => ({
        status: row.status,
        ...(Object.fromEntries(FIGURES.map((key) => [key, Number(row[key])])) as unknown as RedemptionFiguresDto),
      }))
      .sort(
        (a, b) =>
          REDEMPTION_STATUSES.indexOf(a.status as (typeof REDEMPTION_STATUSES)[number]) -
          REDEMPTION_STATUSES.indexOf(b.status as (typeof REDEMPTION_STATUSES)[number]),
      );
    const total = Object.fromEntries(
      FIGURES.map((key) => [key, byStatus.reduce((sum, row) => sum + row[key], 0)]),
    ) as unknown as RedemptionFiguresDto;
    return {
      object: 'redemption_summary',
      currency: 'CNY',
      order_ids: orderIds,
      from: period?.from.toISOString() ?? null,
      to: period?.to.toISOString() ?? null,
      by_status: byStatus,
      total,
    };
  }
}
