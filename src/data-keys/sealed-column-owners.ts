import { Injectable } from '@nestjs/common';
import { CardsRepository } from '../cards/cards.repository';
import type { SealedColumnQueries, SealedColumnSql } from '../database/sealed-column-sql';
import { DistributionRepository } from '../distribution/distribution.repository';
import { IdempotencyRepository } from '../idempotency/idempotency.repository';
import { OrdersRepository } from '../orders/orders.repository';
import { RedemptionRepository } from '../redemption/redemption.repository';
import { WebhooksRepository } from '../webhooks/webhooks.repository';

/**
 * The owners of the encrypted columns' tables, each with its own walk statements (`sealedColumns`): key rotation
 * counts, pages and re-seals a column only through the repository that owns its table (docs/architecture.md: one
 * owner per table), never with SQL of its own.
 */
@Injectable()
export class SealedColumnOwners {
  private readonly byTable = new Map<string, SealedColumnQueries>();

  constructor(
    cards: CardsRepository,
    orders: OrdersRepository,
    idempotency: IdempotencyRepository,
    webhooks: WebhooksRepository,
    distribution: DistributionRepository,
    redemption: RedemptionRepository,
  ) {
    for (const owner of [cards, orders, idempotency, webhooks, distribution, redemption].map(
      (repository) => repository.sealedColumns,
    )) {
      for (const table of owner.tables) {
        if (this.byTable.has(table)) throw new Error(`SealedColumnOwners: two owners claim ${table}`);
        this.byTable.set(table, owner);
      }
    }
  }

  /** The walk statements of the repository that owns the column's table. */
  of(column: Pick<SealedColumnSql, 'table'>): SealedColumnQueries {
    const owner = this.byTable.get(column.table);
    if (!owner) throw new Error(`SealedColumnOwners: no repository owns ${column.table}`);
    return owner;
  }
}
