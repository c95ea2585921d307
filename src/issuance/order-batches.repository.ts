import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';

/** What other modules read of an order's issuance batches (card exports: how many cards, which are anonymous). */
@Injectable()
export class OrderBatchesRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** Cards issued for the order so far, over all its batches. */
  async issuedCards(ctx: RequestContext, orderId: string): Promise<number> {
    const [{ cards }] = await this.connection.query<Array<{ cards: string }>>(
      ctx,
      'SELECT COALESCE(SUM(issued_count), 0)::text AS cards FROM issuance_batches WHERE order_id = $1',
      [orderId],
    );
    return Number(cards);
  }

  /** Ids of the order's batches of anonymous cards. */
  async anonymousBatchIds(ctx: RequestContext, orderId: string): Promise<string[]> {
    const rows = await this.connection.query<Array<{ id: string }>>(
      ctx,
      "SELECT id FROM issuance_batches WHERE order_id = $1 AND card_type = 'anonymous'",
      [orderId],
    );
    return rows.map((row) => row.id);
  }
}
