import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';

/**
 * The one way to write: work joins the transaction bound to the context, or opens
 * one; callbacks registered with afterCommit run only once it has committed
 * (never after a rollback), so nothing outside the database sees uncommitted state.
 */
@Injectable()
export class TransactionService {
  private readonly logger = new Logger(TransactionService.name);

  constructor(private readonly dataSource: DataSource) {}

  async run<T>(ctx: RequestContext, work: () => Promise<T>): Promise<T> {
    const open = ctx.transaction;
    if (open) return work();
    const afterCommit: Array<() => void | Promise<void>> = [];
    const result = await this.dataSource.transaction(async (manager) => {
      ctx.bindTransaction({ manager, afterCommit });
      try {
        return await work();
      } finally {
        ctx.bindTransaction(undefined);
      }
    });
    for (const callback of afterCommit) {
      try {
        await callback();
      } catch (error) {
        this.logger.error({ err: error, reqId: ctx.requestId }, 'after-commit callback failed');
      }
    }
    return result;
  }

  /** Runs `callback` after the context's transaction commits, or now if none is open. */
  async afterCommit(ctx: RequestContext, callback: () => void | Promise<void>): Promise<void> {
    const open = ctx.transaction;
    if (open) open.afterCommit.push(callback);
    else await callback();
  }
}
