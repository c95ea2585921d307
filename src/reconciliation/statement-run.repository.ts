import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';
import { StatementRun } from './statement-run.entity';

/** statement_runs (src/reconciliation). */
@Injectable()
export class StatementRunRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  async insert(ctx: RequestContext, run: StatementRun): Promise<void> {
    await this.connection.manager(ctx).insert(StatementRun, run);
  }

  /** The run (of `enterpriseId` when given: another tenant's reads as absent); `lock` in the context's transaction. */
  async find(
    ctx: RequestContext,
    id: string,
    options: { enterpriseId?: string; lock?: boolean } = {},
  ): Promise<StatementRun | null> {
    return this.connection.manager(ctx).findOne(StatementRun, {
      where: options.enterpriseId ? { id, enterpriseId: options.enterpriseId } : { id },
      ...(options.lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  async update(
    ctx: RequestContext,
    id: string,
    changes: Partial<
      Pick<StatementRun, 'status' | 'sizeBytes' | 'sha256' | 'failureReason' | 'completedAt' | 'expiresAt'>
    >,
  ): Promise<void> {
    await this.connection.manager(ctx).update(StatementRun, { id }, changes);
  }
}
