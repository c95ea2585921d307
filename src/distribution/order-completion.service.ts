import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { OrderLifecycleHooks } from '../orders/order-lifecycle-hooks';
import { OrdersService } from '../orders/orders.service';
import { DistributionRepository } from './distribution.repository';

/**
 * When an issued order is completed (README, "When is an order completed"): every one of its cards is in a holder's
 * hands — bound (by a channel or a distribution's bulk binding), or assigned to a recipient who is delivered, viewed,
 * claimed or bound (their card moved issued → delivered), or in a ready card export of the order (the export module
 * completes the order itself then). Distribution registers its reader with OrderLifecycleHooks, so orders never
 * imports distribution; the order's status moves through OrdersService (order-state.ts).
 */
@Injectable()
export class OrderCompletionService implements OnModuleInit {
  constructor(
    private readonly hooks: OrderLifecycleHooks,
    private readonly orders: OrdersService,
    private readonly repository: DistributionRepository,
  ) {}

  onModuleInit(): void {
    this.hooks.readHandoverWith((ctx, orderId) => this.repository.orderHandedOver(ctx, orderId));
  }

  /** After deliveries, binds or a distribution's completion: completes the order if its cards are all handed over. */
  check(ctx: RequestContext, orderId: string): Promise<boolean> {
    return this.orders.completeIfHandedOver(ctx, orderId);
  }
}
