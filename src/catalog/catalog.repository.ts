import { Injectable } from '@nestjs/common';
import { In } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';
import { type ListQueryDto, type Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import type { CardType } from './product.entity';
import { Product } from './product.entity';

/** The columns a product is created with (id, timestamps and defaults come from the database or the caller). */
export type NewProduct = Omit<Product, 'createdAt' | 'updatedAt'>;

export interface ProductFilter {
  cardType?: CardType;
  active?: boolean;
}

/** The `products` table (docs/architecture.md: catalog owns it). */
@Injectable()
export class CatalogRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  async insert(ctx: RequestContext, product: NewProduct): Promise<Product> {
    const manager = this.connection.manager(ctx);
    await manager.insert(Product, product);
    return manager.findOneByOrFail(Product, { id: product.id });
  }

  /** Newest first, one page. */
  async list(ctx: RequestContext, filter: ProductFilter, page: ListQueryDto): Promise<Page<Product>> {
    const builder = this.connection.manager(ctx).createQueryBuilder(Product, 'product');
    if (filter.cardType) builder.andWhere('product.cardType = :cardType', { cardType: filter.cardType });
    if (filter.active !== undefined) builder.andWhere('product.active = :active', { active: filter.active });
    return paginate(builder, page, (product) => product);
  }

  /** `lock: 'update'`: held FOR UPDATE until the caller's transaction ends. */
  async findById(
    ctx: RequestContext,
    id: string,
    options: { activeOnly?: boolean; lock?: 'update' } = {},
  ): Promise<Product | null> {
    const builder = this.connection
      .manager(ctx)
      .createQueryBuilder(Product, 'product')
      .where('product.id = :id', { id });
    if (options.activeOnly) builder.andWhere('product.active = true');
    if (options.lock === 'update') builder.setLock('pessimistic_write');
    return builder.getOne();
  }

  async update(ctx: RequestContext, id: string, changes: Partial<NewProduct>): Promise<Product> {
    const manager = this.connection.manager(ctx);
    await manager.update(Product, { id }, changes);
    return manager.findOneByOrFail(Product, { id });
  }

  /** The products among `ids`, active or not. */
  async findByIds(ctx: RequestContext, ids: readonly string[]): Promise<Product[]> {
    return this.connection.manager(ctx).findBy(Product, { id: In([...ids]) });
  }

  /** The active products among `ids`; `share`: held FOR SHARE until the caller's transaction ends. */
  async findActive(ctx: RequestContext, ids: readonly string[], options: { share: boolean }): Promise<Product[]> {
    return this.connection.manager(ctx).find(Product, {
      where: { id: In([...ids]), active: true },
      ...(options.share ? { lock: { mode: 'pessimistic_read' as const } } : {}),
    });
  }
}

/** The terms an order line was checked against: the product must still be active and offer exactly these. */
export type ProductOrderTerms = Pick<Product, 'id' | 'cardType' | 'faceValues' | 'designs' | 'greetingAllowed'>;

/**
 * For a single-statement writer (order creation, docs/architecture.md): a SELECT of the ids of the given products
 * that are still active on the given terms, locked FOR SHARE (a concurrent PATCH waits for the writer's commit).
 * Parameters numbered from `firstParam`.
 */
export function activeProductTermsSql(
  products: readonly ProductOrderTerms[],
  firstParam: number,
): { sql: string; params: unknown[] } {
  const terms = products.map((product) => ({
    id: product.id,
    card_type: product.cardType,
    face_values: product.faceValues,
    designs: product.designs,
    greeting_allowed: product.greetingAllowed,
  }));
  return {
    sql: `SELECT p.id FROM products p
            JOIN jsonb_to_recordset($${firstParam}::jsonb)
              AS t(id text, card_type text, face_values jsonb, designs jsonb, greeting_allowed boolean) ON t.id = p.id
           WHERE p.active AND p.card_type = t.card_type AND to_jsonb(p.face_values) = t.face_values
             AND to_jsonb(p.designs) = t.designs AND p.greeting_allowed = t.greeting_allowed
           FOR SHARE OF p`,
    params: [JSON.stringify(terms)],
  };
}
