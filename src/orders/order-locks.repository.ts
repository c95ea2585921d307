import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';
import { Order } from './order.entity';
import type { OrderStatus } from './order-state';

/**
 * The order row as a lock for work on the order that lives in other modules' tables (card exports): locking it
 * serialises that work per order, in the context's transaction.
 */
@Injectable()
export class OrderLocksRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** Locks the order (of `enterpriseId` when given) until the transaction ends; its status, null when none. */
  async lock(ctx: RequestContext, orderId: string, enterpriseId?: string): Promise<{ status: OrderStatus } | null> {
    const order = await this.connection.transactionManager(ctx, 'OrderLocksRepository.lock').findOne(Order, {
      where: enterpriseId ? { id: orderId, enterpriseId } : { id: orderId },
      select: { id: true, status: true },
      lock: { mode: 'pessimistic_write' },
    });
    return order ? { status: order.status } : null;
  }
}
