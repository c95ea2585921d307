import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';
import { IssuanceBatch } from './issuance.entity';

/** issuance_batches as the card and batch reads of the API show them (issuance's table, docs/architecture.md). */
@Injectable()
export class BatchReadsRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** The batch, if it is the enterprise's (any enterprise's when `enterpriseId` is null: the operator). */
  async batch(ctx: RequestContext, id: string, enterpriseId: string | null): Promise<IssuanceBatch | null> {
    return this.connection
      .manager(ctx)
      .findOneBy(IssuanceBatch, { id, ...(enterpriseId === null ? {} : { enterpriseId }) });
  }
}
