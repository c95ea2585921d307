import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';

/** What the cards and redemption modules read of orders (orders' table, docs/architecture.md). */
@Injectable()
export class OrderFactsRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** The order's sealed purchaser identity (a registered card's real-name data), or null. */
  async purchaserCiphertext(ctx: RequestContext, orderId: string): Promise<string | null> {
    const [order] = await this.connection.query<Array<{ purchaser_ciphertext: string | null }>>(
      ctx,
      'SELECT purchaser_ciphertext FROM orders WHERE id = $1',
      [orderId],
    );
    return order?.purchaser_ciphertext ?? null;
  }

  /** Whether the order exists and is the enterprise's. */
  async isOwnedBy(ctx: RequestContext, orderId: string, enterpriseId: string): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(
      ctx,
      'SELECT 1 FROM orders WHERE id = $1 AND enterprise_id = $2',
      [orderId, enterpriseId],
    );
    return rows.length > 0;
  }

  /** Each order's discount in basis points, by id. */
  async discountsBps(ctx: RequestContext, orderIds: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.connection.query<Array<{ id: string; discount_bps: number }>>(
      ctx,
      'SELECT id, discount_bps FROM orders WHERE id = ANY($1)',
      [orderIds],
    );
    return new Map(rows.map((order) => [order.id, order.discount_bps]));
  }
}
