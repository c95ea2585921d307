import { Injectable } from '@nestjs/common';
import { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';

/** The readiness check's one statement: the database answers. */
@Injectable()
export class HealthRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  async ping(ctx: RequestContext = RequestContext.system()): Promise<void> {
    await this.connection.query(ctx, 'SELECT 1');
  }
}
