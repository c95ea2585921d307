import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';
import { Enterprise, type EnterpriseStatus } from './enterprise.entity';

/**
 * The one read of enterprises that authentication needs (does a tenant exist, is it suspended), for modules
 * that EnterprisesModule itself depends on (auth): they take this repository instead of the service.
 */
@Injectable()
export class EnterpriseStatusRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** The enterprise's status, or null when there is no such enterprise. */
  async statusOf(ctx: RequestContext, id: string): Promise<EnterpriseStatus | null> {
    const found = await this.connection
      .manager(ctx)
      .findOne(Enterprise, { where: { id }, select: { id: true, status: true } });
    return found?.status ?? null;
  }
}
