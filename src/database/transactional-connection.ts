import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
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

  /**
   * One statement as a named prepared statement: Postgres parses and plans it once per connection, and later calls
   * send only its parameters. For the hot paths' big composed statements (docs/architecture.md), whose text is
   * otherwise sent, and parsed, on every call. Rows as pg returns them.
   */
  async queryPrepared<T extends QueryResultRow>(ctx: RequestContext, sql: string, parameters: unknown[]): Promise<T[]> {
    const config: QueryConfig = { name: this.statementName(sql), text: sql, values: parameters };
    type Queryable = { query: (config: QueryConfig) => Promise<QueryResult<T>> };
    const open = ctx.transaction;
    const target = open
      ? ((await open.manager.queryRunner!.connect()) as Queryable)
      : (this.dataSource.driver as unknown as { master: Queryable }).master;
    return (await target.query(config)).rows;
  }

  private readonly statementNames = new Map<string, string>();

  /** A stable name per statement text (bounded: texts vary only with a statement's shape, e.g. its line count). */
  private statementName(sql: string): string {
    let name = this.statementNames.get(sql);
    if (!name) {
      if (this.statementNames.size >= 1_000) this.statementNames.clear();
      name = `fuli_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
      this.statementNames.set(sql, name);
    }
    return name;
  }

  /** The pool itself, for work that is not a request's (streams, COPY, LISTEN): database-level adapters only. */
  get rawDataSource(): DataSource {
    return this.dataSource;
  }
}
