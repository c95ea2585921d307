import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';

export interface RecordedStatement {
  sql: string;
  /** The pg client (connection) that sent it: one request's statements share one while its transaction is open. */
  client: pg.Client;
}

/**
 * Records every statement the process sends to Postgres (each `Client#query` is one round trip: node-postgres
 * sends a parameterised query as one Parse/Bind/Execute/Sync batch) while `work` runs. Round-trip budget tests
 * use it: start the app without its in-process worker so that only the request's own statements are seen, and
 * filter out what belongs to other clients if anything else is running. With `ownOnly`, only the statements sent
 * from `work`'s own async chain are kept: a job's statements (a repeating sweep of the in-process worker) are not.
 */
const recording = new AsyncLocalStorage<object>();

export async function recordStatements<T>(
  work: () => Promise<T>,
  { ownOnly = false }: { ownOnly?: boolean } = {},
): Promise<{ result: T; statements: RecordedStatement[] }> {
  const statements: RecordedStatement[] = [];
  const mark = {};
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0];
    const sql = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
    if (!ownOnly || recording.getStore() === mark) statements.push({ sql, client: this });
    return original.apply(this, args);
  };
  try {
    const result = await recording.run(mark, work);
    return { result, statements };
  } finally {
    prototype.query = original;
  }
}
