import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import type { BatchDto } from './dto/batch.dto';
import type { Order } from './order.entity';

/** Runs inside the transaction that changed the order: what it writes commits or rolls back with that change. */
export type OrderHook = (ctx: RequestContext, order: Readonly<Order>) => Promise<void>;

/** The issuance progress of each of the orders, by order id (lines in order). */
export type IssuanceProgressReader = (
  ctx: RequestContext,
  orderIds: readonly string[],
) => Promise<Map<string, BatchDto[]>>;

/**
 * Whether every card of the order is in a holder's hands as far as the reader's module knows (delivered, claimed or
 * bound through a distribution, bound by a channel). All readers must agree for the order to complete.
 */
export type HandoverReader = (ctx: RequestContext, orderId: string) => Promise<boolean>;

/**
 * Runs before an export of the order's card codes is requested or its purge confirmed, in that transaction, with the
 * order row locked (OrdersRepository.lock): throws an ApiError to refuse the export.
 */
export type ExportGuard = (ctx: RequestContext, orderId: string) => Promise<void>;

/**
 * What happens elsewhere when an order changes, registered by the modules that care (issuance, invoicing and distribution, at
 * init), so that orders depends on none of them: the dependency goes one way, issuance → orders (docs/architecture.md).
 */
@Injectable()
export class OrderLifecycleHooks {
  private readonly paidHooks: OrderHook[] = [];
  private readonly paidCancelledHooks: OrderHook[] = [];
  private progressReader: IssuanceProgressReader | undefined;
  private readonly handoverReaders: HandoverReader[] = [];
  private readonly exportGuards: ExportGuard[] = [];

  /** An order became paid (its payment entry is posted; the hook runs before the order.paid audit record). */
  onPaid(hook: OrderHook): void {
    this.paidHooks.push(hook);
  }

  /** A paid order was cancelled before issuance started (its refund is posted after the hooks). */
  onPaidOrderCancelled(hook: OrderHook): void {
    this.paidCancelledHooks.push(hook);
  }

  /** Where an order's issuance progress is read from (one reader). */
  readIssuanceWith(reader: IssuanceProgressReader): void {
    this.progressReader = reader;
  }

  /** Who tells whether an order's cards have all been handed over (distribution, at init). */
  readHandoverWith(reader: HandoverReader): void {
    this.handoverReaders.push(reader);
  }

  /** Every reader says the cards are handed over; false with no reader (nothing completes an order by handover). */
  async handedOver(ctx: RequestContext, orderId: string): Promise<boolean> {
    if (this.handoverReaders.length === 0) return false;
    for (const reader of this.handoverReaders) if (!(await reader(ctx, orderId))) return false;
    return true;
  }

  /** A module that hands an order's cards out another way (distribution) refuses exports of them. */
  guardExports(guard: ExportGuard): void {
    this.exportGuards.push(guard);
  }

  /** Asked by exports before a card-codes export of the order; throws when a guard refuses it. */
  async beforeExport(ctx: RequestContext, orderId: string): Promise<void> {
    for (const guard of this.exportGuards) await guard(ctx, orderId);
  }

  async paid(ctx: RequestContext, order: Readonly<Order>): Promise<void> {
    for (const hook of this.paidHooks) await hook(ctx, order);
  }

  async paidOrderCancelled(ctx: RequestContext, order: Readonly<Order>): Promise<void> {
    for (const hook of this.paidCancelledHooks) await hook(ctx, order);
  }

  async issuanceOf(ctx: RequestContext, orderIds: readonly string[]): Promise<Map<string, BatchDto[]>> {
    return this.progressReader && orderIds.length > 0 ? this.progressReader(ctx, orderIds) : new Map();
  }
}
