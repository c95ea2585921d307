import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { type ListQueryDto, type Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import { Enterprise, type EnterpriseStatus } from './enterprise.entity';

export type NewEnterprise = Omit<Enterprise, 'createdAt' | 'updatedAt' | 'currency'>;

export interface EnterpriseLookup {
  /** Only this enterprise may be seen (a tenant's own); undefined: any. */
  onlyId?: string;
  /** Held FOR UPDATE until the caller's transaction ends. */
  lock?: boolean;
}

/** The `enterprises` table (docs/architecture.md: enterprises owns it). */
@Injectable()
export class EnterprisesRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /**
   * false when the credit code is taken. ON CONFLICT DO NOTHING instead of catching the unique violation: the
   * transaction (possibly the request's idempotency transaction) stays usable, and a concurrent insert of the same
   * code waits for the other to commit.
   */
  async insertIfAbsent(ctx: RequestContext, enterprise: NewEnterprise): Promise<boolean> {
    const inserted = await this.connection
      .manager(ctx)
      .createQueryBuilder()
      .insert()
      .into(Enterprise)
      .values(enterprise)
      .orIgnore()
      .returning(['id'])
      .updateEntity(false)
      .execute();
    return (inserted.raw as unknown[]).length > 0;
  }

  async idByCreditCode(ctx: RequestContext, creditCode: string): Promise<string | null> {
    const found = await this.connection
      .manager(ctx)
      .findOne(Enterprise, { where: { creditCode }, select: { id: true } });
    return found?.id ?? null;
  }

  /**
   * The enterprise's status, or null when there is no such enterprise: the one read of enterprises authentication
   * needs (does a tenant exist, is it suspended); auth takes it from here rather than from EnterprisesService.
   */
  async statusOf(ctx: RequestContext, id: string): Promise<EnterpriseStatus | null> {
    const found = await this.connection
      .manager(ctx)
      .findOne(Enterprise, { where: { id }, select: { id: true, status: true } });
    return found?.status ?? null;
  }

  async findById(ctx: RequestContext, id: string, lookup: EnterpriseLookup = {}): Promise<Enterprise | null> {
    if (lookup.onlyId !== undefined && lookup.onlyId !== id) return null;
    const builder = this.connection
      .manager(ctx)
      .createQueryBuilder(Enterprise, 'enterprise')
      .where('enterprise.id = :id', { id });
    if (lookup.lock) builder.setLock('pessimistic_write');
    return builder.getOne();
  }

  /** Newest first, one page. */
  async list(
    ctx: RequestContext,
    filter: { onlyId?: string; status?: EnterpriseStatus; creditCode?: string },
    page: ListQueryDto,
  ): Promise<Page<Enterprise>> {
    const builder = this.connection.manager(ctx).createQueryBuilder(Enterprise, 'enterprise');
    if (filter.onlyId !== undefined) builder.andWhere('enterprise.id = :onlyId', { onlyId: filter.onlyId });
    if (filter.status) builder.andWhere('enterprise.status = :status', { status: filter.status });
    if (filter.creditCode) builder.andWhere('enterprise.creditCode = :creditCode', { creditCode: filter.creditCode });
    return paginate(builder, page, (enterprise) => enterprise);
  }

  async update(ctx: RequestContext, id: string, changes: Partial<NewEnterprise>): Promise<Enterprise> {
    const manager = this.connection.manager(ctx);
    await manager.update(Enterprise, { id }, changes);
    return manager.findOneByOrFail(Enterprise, { id });
  }
}

/** The terms an order was priced on: the enterprise must still be active with exactly these. */
export interface EnterpriseOrderTerms {
  id: string;
  discountBps: number;
  approvalThreshold: number | null;
}

/**
 * For a single-statement writer (order creation, docs/architecture.md): a SELECT yielding one row while the
 * enterprise is active on the given terms, none otherwise. Parameters numbered from `firstParam`.
 */
export function activeEnterpriseTermsSql(
  terms: EnterpriseOrderTerms,
  firstParam: number,
): { sql: string; params: unknown[] } {
  const p = (offset: number) => `$${firstParam + offset}`;
  return {
    sql: `SELECT 1 FROM enterprises WHERE id = ${p(0)}::text AND status = 'active'
            AND discount_bps = ${p(1)}::int AND approval_threshold IS NOT DISTINCT FROM ${p(2)}::bigint`,
    params: [terms.id, terms.discountBps, terms.approvalThreshold],
  };
}
