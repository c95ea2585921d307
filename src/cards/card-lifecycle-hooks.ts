import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';

/** Money that went back to the enterprise (or its card holder) from one order's cards. */
export interface CardMoneyReturned {
  kind: 'void' | 'refund';
  enterpriseId: string;
  orderId: string;
  /** Face value (balance) of the cards the money came off, fen. */
  faceValue: number;
  /** What the enterprise paid for that value (face less the order's discount, by the pricing rule), fen. */
  amount: number;
  serials: readonly string[];
}

/** Runs inside the transaction of the void or refund: what it writes commits or rolls back with it. */
export type CardMoneyHook = (ctx: RequestContext, returned: Readonly<CardMoneyReturned>) => Promise<void>;

/**
 * What happens elsewhere when card money goes back, registered by the modules that care (invoicing, at init), so
 * that cards depends on none of them: the dependency goes one way, invoicing → cards (docs/architecture.md), as with
 * orders' OrderLifecycleHooks.
 */
@Injectable()
export class CardLifecycleHooks {
  private readonly moneyHooks: CardMoneyHook[] = [];

  /** Unused cards were voided, or a registered card's balance was refunded (one call per order). */
  onMoneyReturned(hook: CardMoneyHook): void {
    this.moneyHooks.push(hook);
  }

  async moneyReturned(ctx: RequestContext, returned: Readonly<CardMoneyReturned>): Promise<void> {
    for (const hook of this.moneyHooks) await hook(ctx, returned);
  }
}
