/**
 * The statements of a key rotation's walk over one encrypted column (src/data-keys/sealed-columns.ts describes
 * the columns): count its envelopes by key id, read a page in primary-key order, store re-sealed envelopes only
 * where the old ones are still in place. Built here, generically, and sent by the repository of the module that
 * owns the column's table (SealedColumnQueries, given the tables it may touch).
 */
import type { RequestContext } from '../common/context/request-context';
import type { TransactionalConnection } from './transactional-connection';

export interface KeyColumn {
  name: string;
  type: 'bigint' | 'text';
}

/** What the statements need to know of a column. */
export interface SealedColumnSql {
  readonly table: string;
  /** The primary key in index order: the keyset the walk pages by, and how a row is named. */
  readonly key: readonly KeyColumn[];
  /**
   * SQL (text) of what is read for a row to rotate and compared when it is stored (the envelope), with the table
   * aliased `alias`; NULL when the row holds none.
   */
  envelopeOf(alias: string): string;
  /** SQL (text) of the key id the row is under; NULL when it holds nothing. */
  keyIdOf(alias: string): string;
  /** SQL condition: the row is not under the key that `$1` names. */
  notUnder(alias: string): string;
  /** SQL assignment (UPDATE … SET) that stores the text expression `fresh` as the row's envelope. */
  store(fresh: string): string;
}

type SealedColumn = SealedColumnSql;

const quoted = (identifier: string) => `"${identifier}"`;
const keyList = (column: SealedColumn, alias: string) =>
  column.key.map((key) => `${alias}.${quoted(key.name)}`).join(', ');
const keysAsText = (column: SealedColumn, alias: string) =>
  column.key.map((key, i) => `${alias}.${quoted(key.name)}::text AS k${i}`).join(', ');

/** Rows per key id (`key_id` NULL: rows without an envelope). One aggregate pass over the table. */
export function censusSql(column: SealedColumn): string {
  return `SELECT ${column.keyIdOf('t')} AS key_id, count(*)::text AS rows
            FROM ${quoted(column.table)} t GROUP BY 1`;
}

/**
 * The next `$2` rows after the cursor (`$3…`, one per key column; none for the first page) in primary-key order:
 * their keys as text `k0…`, `stale`, the envelope when the row is not under the key `$1` names
 * (SealedColumn.stalenessParam), and `key_id`, the key it is under.
 * Only stale envelopes leave the database.
 */
export function pageSql(column: SealedColumn, afterCursor: boolean): string {
  const envelope = column.envelopeOf('t');
  const cursor = column.key.map((key, i) => `$${i + 3}::${key.type}`).join(', ');
  return `SELECT ${keysAsText(column, 't')},
                 CASE WHEN ${envelope} IS NOT NULL AND ${column.notUnder('t')} THEN ${envelope} END AS stale,
                 ${column.keyIdOf('t')} AS key_id
            FROM ${quoted(column.table)} t
           ${afterCursor ? `WHERE (${keyList(column, 't')}) > (${cursor})` : ''}
           ORDER BY ${keyList(column, 't')}
           LIMIT $2`;
}

/**
 * Stores re-sealed envelopes, each only where the row still holds the envelope that was read (a purge or a
 * write in between wins): parameters are one array per key column, then the stale and the fresh envelopes.
 * Returns the keys (`k0…`, text) of the rows it updated.
 */
export function resealSql(column: SealedColumn): string {
  const n = column.key.length;
  const arrays = [...column.key.map((key, i) => `$${i + 1}::${key.type}[]`), `$${n + 1}::text[]`, `$${n + 2}::text[]`];
  const names = [...column.key.map((_, i) => `k${i}`), 'stale', 'fresh'];
  const match = column.key.map((key, i) => `t.${quoted(key.name)} = v.k${i}`).join(' AND ');
  return `WITH v AS (SELECT * FROM unnest(${arrays.join(', ')}) AS v(${names.join(', ')})),
               u AS (UPDATE ${quoted(column.table)} t SET ${column.store('v.fresh')}
                       FROM v WHERE ${match} AND ${column.envelopeOf('t')} = v.stale
                     RETURNING ${keysAsText(column, 't')})
          SELECT * FROM u`;
}

/** A page as pageSql returns it: keys as text k0…, and the envelope when it is not under the target. */
export type SealedPageRow = Record<string, string | null> & { stale: string | null; key_id: string | null };

/** Rows per key id (`key_id` NULL: rows without an envelope). */
export type SealedCensusRow = { key_id: string | null; rows: string };

/**
 * Sends the walk's statements for the columns of `tables` (their owner's), on the context's transaction or the pool.
 * Each owning repository holds one as `sealedColumns`; key rotation finds a column's by its table.
 */
export class SealedColumnQueries {
  constructor(
    private readonly connection: TransactionalConnection,
    readonly tables: readonly string[],
  ) {}

  async census(ctx: RequestContext, column: SealedColumnSql): Promise<SealedCensusRow[]> {
    return this.connection.query<SealedCensusRow[]>(ctx, censusSql(this.owned(column)));
  }

  /** The next `limit` rows after `cursor` (null: from the start); `stale` set where not under `stalenessParam`. */
  async page(
    ctx: RequestContext,
    column: SealedColumnSql,
    stalenessParam: string,
    limit: number,
    cursor: readonly string[] | null,
  ): Promise<SealedPageRow[]> {
    return this.connection.query<SealedPageRow[]>(ctx, pageSql(this.owned(column), cursor !== null), [
      stalenessParam,
      limit,
      ...(cursor ?? []),
    ]);
  }

  /** Stores `fresh[i]` where row `keys[i]` still holds `stale[i]`; the keys (k0…, text) of the rows it updated. */
  async reseal(
    ctx: RequestContext,
    column: SealedColumnSql,
    keys: readonly string[][],
    stale: readonly string[],
    fresh: readonly string[],
  ): Promise<Array<Record<string, string>>> {
    if (keys.length === 0) return [];
    return this.connection.query<Array<Record<string, string>>>(ctx, resealSql(this.owned(column)), [
      ...column.key.map((_, i) => keys.map((key) => key[i])),
      stale,
      fresh,
    ]);
  }

  private owned(column: SealedColumnSql): SealedColumnSql {
    if (!this.tables.includes(column.table)) throw new Error(`${column.table} is not a table this repository owns`);
    return column;
  }
}
