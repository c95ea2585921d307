import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';

/**
 * What a repository talks to (Vendure's TransactionalConnection): the transaction bound to the
 * request context when one is open, else the pool. Only `*.repository.ts` files and `src/database/`
 * may use it (an ESLint rule says so), so SQL for a table lives in the one module that owns it.
 */
@Injectable()
export class TransactionalConnection {
  constructor(private readonly dataSource: DataSource) {}

  /** The context's open transaction, or the pool (each statement on its own) outside one. */
  manager(ctx: RequestContext): EntityManager {
    return ctx.transaction?.manager ?? this.dataSource.manager;
  }

  /** The context's open transaction; a programming error (500) when the caller opened none. */
  transactionManager(ctx: RequestContext, what: string): EntityManager {
    const open = ctx.transaction;
    if (!open) throw new Error(`${what} must run inside a transaction: call it within TransactionService.run`);
    return open.manager;
  }

  /** One statement on the context's transaction (or the pool), rows typed by the caller. */
  query<T>(ctx: RequestContext, sql: string, parameters: unknown[] = []): Promise<T> {
    return this.manager(ctx).query<T>(sql, parameters);
  }

  /** The pool itself, for work that is not a request's (streams, COPY, LISTEN): database-level adapters only. */
  get rawDataSource(): DataSource {
    return this.dataSource;
  }
}
