import { Injectable } from '@nestjs/common';
import { In } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';
import { type Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import {
  ISSUING_STATUSES,
  type LedgerInvariantCheck,
  type LedgerViolation,
  type SqlRows,
  UNPAID_STATUSES,
} from './ledger-invariants';
import { enterprisesTouched, type LedgerPosting, validatePosting } from './ledger-posting';
import { ENTERPRISE_ACCOUNTS, LedgerAccount, LedgerEntry, LedgerLine } from './ledger.entity';

/**
 * Namespace (first key) of the two-key advisory locks on an enterprise's funds;
 * the second key is hashtext(enterpriseId). Distinct from 7301 (idempotency keys).
 */
export const LEDGER_FUNDS_LOCK = 7_302;

/** A SQL piece with its parameters, numbered from the `firstParam` the composer gave. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/** The columns of one journal entry as written. */
export interface LedgerEntryRecord {
  id: string;
  kind: string;
  memo: string;
  enterpriseId: string | null;
  orderId: string | null;
  paymentId: string | null;
  requestId: string | null;
}

/** Σ columns come back as text (numeric in SQL): LedgerService turns them into fen. */
export interface FundsRow {
  credit_limit: string;
  prepaid: string;
  receivable: string;
  held: string;
}

function lineTuples(posting: LedgerPosting, values: unknown[], entryRef: string): string[] {
  return posting.lines.map((line) => {
    values.push(line.account, line.enterpriseId ?? null, line.amount);
    const at = values.length;
    return `(${entryRef}, $${at - 2}, $${at - 1}, $${at}::bigint)`;
  });
}

/**
 * The ledger's part of a single-statement hot path (docs/architecture.md): CTEs `<name>_entry` and `<name>_lines`
 * that write `posting` as entry `record`, once per row of `source` (a CTE of the composed statement: no row, no
 * entry), parameters numbered from `firstParam`. The posting is validated here, as LedgerService.post does; a posting
 * that touches a per-enterprise account (prepaid, receivable) is refused, because it needs the enterprise's funds
 * lock before the statement, which one statement cannot take in order.
 */
export function ledgerEntrySql(
  posting: LedgerPosting,
  record: LedgerEntryRecord,
  { source, firstParam, name = 'ledger' }: { source: string; firstParam: number; name?: string },
): SqlFragment {
  validatePosting(posting);
  if (enterprisesTouched(posting).length > 0) {
    throw new Error(`ledgerEntrySql: ${posting.kind} moves an enterprise's funds: post it with LedgerService.post`);
  }
  const params: unknown[] = [];
  const p = (value: unknown, cast = '') => {
    params.push(value);
    return `$${firstParam + params.length - 1}${cast}`;
  };
  const entry = [
    p(record.id),
    p(record.kind),
    p(record.memo),
    p(record.enterpriseId, '::text'),
    p(record.orderId, '::text'),
    p(record.paymentId, '::text'),
    p(record.requestId, '::text'),
  ];
  const tuples = posting.lines.map(
    (line) =>
      `(${p(line.account, '::text')}, ${p(line.enterpriseId ?? null, '::text')}, ${p(line.amount, '::bigint')})`,
  );
  return {
    sql: `${name}_entry AS (
       INSERT INTO ledger_entries (id, kind, memo, enterprise_id, order_id, payment_id, request_id)
       SELECT ${entry.join(', ')} FROM ${source} RETURNING id),
     ${name}_lines AS (
       INSERT INTO ledger_lines (entry_id, account, enterprise_id, amount)
       SELECT ${name}_entry.id, v.account, v.enterprise_id, v.amount
       FROM ${name}_entry, (VALUES ${tuples.join(', ')}) AS v (account, enterprise_id, amount)
       RETURNING entry_id)`,
    params,
  };
}

/**
 * How a statement reads an enterprise's position from its lines (README "Finance: statements"), all in fen and signed
 * as the enterprise sees them: prepaid balance −Σ prepaid, credit used Σ receivable, held for orders −Σ order_deposits
 * (the enterprise's own lines), card float −Σ card_float of the entries that name the enterprise.
 */
const STATEMENT_COLUMNS = `
  COALESCE(-SUM(l.amount) FILTER (WHERE l.account = 'prepaid' AND l.enterprise_id = e.enterprise_id), 0) AS prepaid_balance,
  COALESCE(SUM(l.amount) FILTER (WHERE l.account = 'receivable' AND l.enterprise_id = e.enterprise_id), 0) AS credit_used,
  COALESCE(-SUM(l.amount) FILTER (WHERE l.account = 'order_deposits' AND l.enterprise_id = e.enterprise_id), 0)
    AS held_for_orders,
  COALESCE(-SUM(l.amount) FILTER (WHERE l.account = 'card_float'), 0) AS card_float`;

/** One kind's movements in a statement period (Σ as text: numeric in SQL). */
export interface StatementKindRow {
  kind: string;
  entries: string;
  prepaid_balance: string;
  credit_used: string;
  held_for_orders: string;
  card_float: string;
}

/** An enterprise's four balances at an instant, as text. */
export interface StatementBalanceRow {
  prepaid_balance: string;
  credit_used: string;
  held_for_orders: string;
  card_float: string;
}

/**
 * The ledger's part of a statement's lines: one row per entry naming enterprise `$1`, booked in [`$2`, `$3`), that
 * moves its funds (prepaid, receivable, order_deposits), or mints its cards (`cards_issued`, the float the new cards
 * hold). Card movements after minting are listed card by card from the cards' own record (cards'
 * statementCardMovementsSql), so here the float column is set for minting only. Columns: at, source ('ledger'), id,
 * kind, order_id, memo, card_serial, redemption_id, prepaid_balance, credit_used, held_for_orders, card_float.
 */
export function statementEntryLinesSql(): string {
  return `SELECT e.created_at AS at, 'ledger'::text AS source, e.id AS id, e.kind, e.order_id, e.memo,
      NULL::bigint AS card_serial, NULL::text AS redemption_id,
      COALESCE(-SUM(l.amount) FILTER (WHERE l.account = 'prepaid' AND l.enterprise_id = $1), 0) AS prepaid_balance,
      COALESCE(SUM(l.amount) FILTER (WHERE l.account = 'receivable' AND l.enterprise_id = $1), 0) AS credit_used,
      COALESCE(-SUM(l.amount) FILTER (WHERE l.account = 'order_deposits' AND l.enterprise_id = $1), 0) AS held_for_orders,
      COALESCE(-SUM(l.amount) FILTER (WHERE l.account = 'card_float' AND e.kind = 'cards_issued'), 0) AS card_float
    FROM ledger_entries e JOIN ledger_lines l ON l.entry_id = e.id
    WHERE e.enterprise_id = $1 AND e.created_at >= $2 AND e.created_at < $3
    GROUP BY e.id
    HAVING e.kind = 'cards_issued' OR bool_or(l.enterprise_id = $1)`;
}

export interface StatementSums {
  opening: StatementBalanceRow;
  closing: StatementBalanceRow;
  kinds: StatementKindRow[];
}

/**
 * A statement's figures for enterprise `enterpriseId` in [from, to): its balances at `from` and at `to`, and the
 * period's movements by entry kind, in one statement (one snapshot) over the entries that name it. `rows` runs it:
 * a repository's connection, or the connection a streamed statement reads its lines on (the same snapshot).
 */
export async function readStatementSums(
  rows: SqlRows,
  enterpriseId: string,
  from: Date,
  to: Date,
): Promise<StatementSums> {
  const columns = STATEMENT_COLUMNS.replaceAll('e.enterprise_id', 'named');
  const [row] = await rows<{
    opening: StatementBalanceRow | null;
    closing: StatementBalanceRow | null;
    kinds: StatementKindRow[] | null;
  }>(
    `WITH lines AS (
       SELECT e.kind, e.created_at, e.id AS entry_id, l.account, l.enterprise_id, l.amount, e.enterprise_id AS named
       FROM ledger_entries e JOIN ledger_lines l ON l.entry_id = e.id
       WHERE e.enterprise_id = $1 AND e.created_at < $3),
     balance AS (SELECT (created_at < $2) AS before, ${columns} FROM lines l GROUP BY ROLLUP (1)),
     kinds AS (
       SELECT kind, COUNT(DISTINCT entry_id)::text AS entries, ${columns} FROM lines l WHERE created_at >= $2 GROUP BY kind)
     SELECT
       (SELECT row_to_json(b) FROM (SELECT prepaid_balance::text, credit_used::text, held_for_orders::text,
          card_float::text FROM balance WHERE before) b) AS opening,
       (SELECT row_to_json(b) FROM (SELECT prepaid_balance::text, credit_used::text, held_for_orders::text,
          card_float::text FROM balance WHERE before IS NULL) b) AS closing,
       (SELECT json_agg(k ORDER BY k.kind) FROM (SELECT kind, entries, prepaid_balance::text, credit_used::text,
          held_for_orders::text, card_float::text FROM kinds) k) AS kinds`,
    [enterpriseId, from, to],
  );
  const zero: StatementBalanceRow = { prepaid_balance: '0', credit_used: '0', held_for_orders: '0', card_float: '0' };
  return { opening: row?.opening ?? zero, closing: row?.closing ?? zero, kinds: row?.kinds ?? [] };
}

/** What the entries of one kind moved on one account in a period (Σ as text: numeric in SQL). */
export interface PlatformMovementRow {
  kind: string;
  account: LedgerAccount;
  entries: string;
  amount: string;
}

/** The platform's figures for a period: the card float before and after it, and every (kind, account) movement. */
export interface PlatformPeriodSums {
  /** −Σ card_float before `from` and before `to`, as text (the float is credit-normal). */
  float_opening: string;
  float_closing: string;
  movements: PlatformMovementRow[];
}

/**
 * The operator's daily report from the ledger, platform-wide, for [from, to): the card float at both ends and the
 * Σ of every account's lines per entry kind booked in the period, in one statement (one snapshot). `rows` runs it:
 * a repository's connection, or the read-only transaction the report reads its channel settlement in.
 */
export async function readPlatformPeriodSums(rows: SqlRows, from: Date, to: Date): Promise<PlatformPeriodSums> {
  const [row] = await rows<{ float_opening: string; float_closing: string; movements: PlatformMovementRow[] | null }>(
    `WITH float AS (
       SELECT COALESCE(-SUM(l.amount) FILTER (WHERE e.created_at < $1), 0)::text AS float_opening,
              COALESCE(-SUM(l.amount), 0)::text AS float_closing
         FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
        WHERE l.account = 'card_float' AND e.created_at < $2),
     movements AS (
       SELECT e.kind, l.account, COUNT(DISTINCT e.id)::text AS entries, SUM(l.amount)::text AS amount
         FROM ledger_entries e JOIN ledger_lines l ON l.entry_id = e.id
        WHERE e.created_at >= $1 AND e.created_at < $2
        GROUP BY e.kind, l.account)
     SELECT float.float_opening, float.float_closing,
       (SELECT json_agg(m ORDER BY m.kind, m.account) FROM movements m) AS movements
     FROM float`,
    [from, to],
  );
  return {
    float_opening: row?.float_opening ?? '0',
    float_closing: row?.float_closing ?? '0',
    movements: row?.movements ?? [],
  };
}

/** ledger_entries and ledger_lines: the only SQL on them (docs/architecture.md). */
@Injectable()
export class LedgerRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** The entry and its lines in one statement, in the context's transaction; answers the entry's created_at. */
  async insertEntry(ctx: RequestContext, record: LedgerEntryRecord, posting: LedgerPosting): Promise<Date> {
    const manager = this.connection.transactionManager(ctx, 'LedgerService.post');
    const values: unknown[] = [
      record.id,
      record.kind,
      record.memo,
      record.enterpriseId,
      record.orderId,
      record.paymentId,
      record.requestId,
    ];
    const lines = lineTuples(posting, values, '$1');
    const [{ created_at: createdAt }] = await manager.query<Array<{ created_at: Date }>>(
      `WITH e AS (
         INSERT INTO ledger_entries (id, kind, memo, enterprise_id, order_id, payment_id, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at),
       l AS (INSERT INTO ledger_lines (entry_id, account, enterprise_id, amount) VALUES ${lines.join(', ')})
       SELECT created_at FROM e`,
      values,
    );
    return createdAt;
  }

  /** pg_advisory_xact_lock(LEDGER_FUNDS_LOCK, hashtext(enterpriseId)) in the context's transaction. */
  async lockEnterpriseFunds(ctx: RequestContext, enterpriseId: string): Promise<void> {
    const manager = this.connection.transactionManager(ctx, 'LedgerService.lockEnterpriseFunds');
    await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LEDGER_FUNDS_LOCK, enterpriseId]);
  }

  /** Σ of an account's lines (one enterprise's, or all), as text. */
  async accountSum(ctx: RequestContext, account: LedgerAccount, enterpriseId?: string): Promise<string> {
    const rows =
      enterpriseId !== undefined
        ? await this.connection.query<{ total: string }[]>(
            ctx,
            'SELECT COALESCE(SUM(amount), 0)::text AS total FROM ledger_lines WHERE account = $1 AND enterprise_id = $2',
            [account, enterpriseId],
          )
        : await this.connection.query<{ total: string }[]>(
            ctx,
            'SELECT COALESCE(SUM(amount), 0)::text AS total FROM ledger_lines WHERE account = $1',
            [account],
          );
    return rows[0].total;
  }

  /** Σ of one account's lines in the entries of one order, as text. */
  async orderSum(ctx: RequestContext, orderId: string, account: LedgerAccount): Promise<string> {
    const rows = await this.connection.query<{ total: string }[]>(
      ctx,
      `SELECT COALESCE(SUM(l.amount), 0)::text AS total
       FROM ledger_entries e JOIN ledger_lines l ON l.entry_id = e.id
       WHERE e.order_id = $1 AND l.account = $2`,
      [orderId, account],
    );
    return rows[0].total;
  }

  /**
   * Credit limit and the prepaid, receivable and held sums of one enterprise in one statement (one snapshot); null
   * when the enterprise does not exist. The credit limit is the enterprise's own column, read in the same snapshot.
   */
  async funds(ctx: RequestContext, enterpriseId: string): Promise<FundsRow | null> {
    const rows = await this.connection.query<FundsRow[]>(
      ctx,
      `SELECT e.credit_limit::text AS credit_limit,
         (SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = $2 AND enterprise_id = e.id)::text AS prepaid,
         (SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = $3 AND enterprise_id = e.id)::text AS receivable,
         (SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = $4 AND enterprise_id = e.id)::text AS held
       FROM enterprises e WHERE e.id = $1`,
      [enterpriseId, LedgerAccount.Prepaid, LedgerAccount.Receivable, LedgerAccount.OrderDeposits],
    );
    return rows[0] ?? null;
  }

  /** A statement's figures (readStatementSums), on the context's transaction or the pool. */
  statementSums(ctx: RequestContext, enterpriseId: string, from: Date, to: Date): Promise<StatementSums> {
    return readStatementSums((sql, parameters) => this.connection.query(ctx, sql, parameters), enterpriseId, from, to);
  }

  /** The enterprises named by an entry booked in [from, to), sorted (the daily reconciliation). */
  async enterprisesWithEntries(ctx: RequestContext, from: Date, to: Date): Promise<string[]> {
    const rows = await this.connection.query<Array<{ enterprise_id: string }>>(
      ctx,
      `SELECT DISTINCT enterprise_id FROM ledger_entries
       WHERE enterprise_id IS NOT NULL AND created_at >= $1 AND created_at < $2 ORDER BY enterprise_id`,
      [from, to],
    );
    return rows.map((row) => row.enterprise_id);
  }

  /**
   * How many entries there are and the first violation of the first failing invariant check: in the context's
   * transaction when one is bound (it sees its own writes), else in a read-only REPEATABLE READ transaction, so every
   * check sees one snapshot.
   */
  async verify(ctx: RequestContext): Promise<{ entries: string; violation: LedgerViolation | null }> {
    const run = async (rows: SqlRows) => {
      const [counted] = await rows<{ n: string }>('SELECT COUNT(*)::text AS n FROM ledger_entries');
      for (const check of LEDGER_INVARIANT_CHECKS) {
        const violation = await check.firstViolation(rows);
        if (violation) return { entries: counted.n, violation };
      }
      return { entries: counted.n, violation: null };
    };
    const bound = ctx.transaction?.manager;
    if (bound) return run((sql, parameters) => bound.query(sql, parameters));
    return this.connection.rawDataSource.transaction('REPEATABLE READ', async (manager) => {
      await manager.query('SET TRANSACTION READ ONLY');
      return run((sql, parameters) => manager.query(sql, parameters));
    });
  }

  /** A page of entries, newest first, filtered; and the lines of those entries. */
  async listEntries(
    ctx: RequestContext,
    filter: { enterpriseId?: string; orderId?: string; kind?: string },
    page: Parameters<typeof paginate>[1],
  ): Promise<{ page: Page<LedgerEntry>; lines: LedgerLine[] }> {
    const manager = this.connection.manager(ctx);
    const builder = manager.createQueryBuilder(LedgerEntry, 'entry');
    if (filter.enterpriseId)
      builder.andWhere('entry.enterpriseId = :enterpriseId', { enterpriseId: filter.enterpriseId });
    if (filter.orderId) builder.andWhere('entry.orderId = :orderId', { orderId: filter.orderId });
    if (filter.kind) builder.andWhere('entry.kind = :kind', { kind: filter.kind });
    const entries = await paginate(builder, page, (entry) => entry);
    const lines =
      entries.data.length === 0
        ? []
        : await manager.find(LedgerLine, {
            where: { entryId: In(entries.data.map((entry) => entry.id)) },
            order: { id: 'ASC' },
          });
    return { page: entries, lines };
  }
}

const ACCOUNT_VALUES = Object.values(LedgerAccount);
/** Accounts whose lines belong to the order their entry names. */
const ORDER_ACCOUNTS = [LedgerAccount.UnissuedOrders, LedgerAccount.OrderDeposits];
const ENTERPRISE_ACCOUNT_VALUES = [...ENTERPRISE_ACCOUNTS];

async function first<T>(rows: SqlRows, sql: string, parameters: unknown[] = []): Promise<T | undefined> {
  return (await rows<T>(sql, parameters))[0];
}

/**
 * Every invariant the ledger can check today, in the order verify() runs them
 * (it reports the first violation of the first failing check). Sums come back
 * as text: they are numeric in SQL and only shown in the detail.
 */
export const LEDGER_INVARIANT_CHECKS: readonly LedgerInvariantCheck[] = [
  {
    invariant: 'entry_sums_to_zero',
    async firstViolation(rows) {
      const row = await first<{ entry_id: string; total: string }>(
        rows,
        `SELECT entry_id, SUM(amount)::text AS total FROM ledger_lines
         GROUP BY entry_id HAVING SUM(amount) <> 0 ORDER BY entry_id LIMIT 1`,
      );
      return row
        ? {
            invariant: 'entry_sums_to_zero',
            entryId: row.entry_id,
            detail: `The lines of entry ${row.entry_id} sum to ${row.total} fen, not zero`,
          }
        : null;
    },
  },
  {
    invariant: 'entry_has_two_lines',
    async firstViolation(rows) {
      const row = await first<{ id: string; lines: number }>(
        rows,
        `SELECT e.id, COUNT(l.id)::int AS lines FROM ledger_entries e LEFT JOIN ledger_lines l ON l.entry_id = e.id
         GROUP BY e.id HAVING COUNT(l.id) < 2 ORDER BY e.id LIMIT 1`,
      );
      return row
        ? {
            invariant: 'entry_has_two_lines',
            entryId: row.id,
            detail: `Entry ${row.id} has ${row.lines} line(s); every entry needs at least two`,
          }
        : null;
    },
  },
  {
    invariant: 'line_has_entry',
    async firstViolation(rows) {
      const row = await first<{ entry_id: string; account: string }>(
        rows,
        `SELECT l.entry_id, l.account FROM ledger_lines l
         WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = l.entry_id) ORDER BY l.id LIMIT 1`,
      );
      return row
        ? {
            invariant: 'line_has_entry',
            entryId: row.entry_id,
            account: row.account,
            detail: `A ${row.account} line refers to entry ${row.entry_id}, which does not exist`,
          }
        : null;
    },
  },
  {
    invariant: 'account_known',
    async firstViolation(rows) {
      const row = await first<{ entry_id: string; account: string }>(
        rows,
        'SELECT entry_id, account FROM ledger_lines WHERE account <> ALL($1::text[]) ORDER BY id LIMIT 1',
        [ACCOUNT_VALUES],
      );
      return row
        ? {
            invariant: 'account_known',
            entryId: row.entry_id,
            account: row.account,
            detail: `Entry ${row.entry_id} has a line on unknown account '${row.account}'`,
          }
        : null;
    },
  },
  {
    invariant: 'account_enterprise_scope',
    async firstViolation(rows) {
      const row = await first<{ entry_id: string; account: string; enterprise_id: string | null }>(
        rows,
        `SELECT entry_id, account, enterprise_id FROM ledger_lines
         WHERE (account = ANY($1::text[]) AND enterprise_id IS NULL)
            OR (account <> ALL($1::text[]) AND enterprise_id IS NOT NULL)
         ORDER BY id LIMIT 1`,
        [ENTERPRISE_ACCOUNT_VALUES],
      );
      if (!row) return null;
      return {
        invariant: 'account_enterprise_scope',
        entryId: row.entry_id,
        account: row.account,
        ...(row.enterprise_id === null ? {} : { enterpriseId: row.enterprise_id }),
        detail:
          row.enterprise_id === null
            ? `Entry ${row.entry_id} has a ${row.account} line without an enterprise`
            : `Entry ${row.entry_id} has a platform ${row.account} line carrying enterprise ${row.enterprise_id}`,
      };
    },
  },
  {
    invariant: 'prepaid_not_negative',
    async firstViolation(rows) {
      // The prepaid balance is −Σ prepaid lines (a liability): negative when the debits win.
      const row = await first<{ enterprise_id: string; balance: string }>(
        rows,
        `SELECT enterprise_id, (-SUM(amount))::text AS balance FROM ledger_lines
         WHERE account = $1 AND enterprise_id IS NOT NULL
         GROUP BY enterprise_id HAVING SUM(amount) > 0 ORDER BY enterprise_id LIMIT 1`,
        [LedgerAccount.Prepaid],
      );
      return row
        ? {
            invariant: 'prepaid_not_negative',
            account: LedgerAccount.Prepaid,
            enterpriseId: row.enterprise_id,
            detail: `Enterprise ${row.enterprise_id} has a prepaid balance of ${row.balance} fen`,
          }
        : null;
    },
  },
  {
    invariant: 'receivable_not_negative',
    async firstViolation(rows) {
      const row = await first<{ enterprise_id: string; balance: string }>(
        rows,
        `SELECT enterprise_id, SUM(amount)::text AS balance FROM ledger_lines
         WHERE account = $1 AND enterprise_id IS NOT NULL
         GROUP BY enterprise_id HAVING SUM(amount) < 0 ORDER BY enterprise_id LIMIT 1`,
        [LedgerAccount.Receivable],
      );
      return row
        ? {
            invariant: 'receivable_not_negative',
            account: LedgerAccount.Receivable,
            enterpriseId: row.enterprise_id,
            detail: `Enterprise ${row.enterprise_id} has repaid more credit than it used: receivable ${row.balance} fen`,
          }
        : null;
    },
  },
  {
    invariant: 'order_account_has_order',
    async firstViolation(rows) {
      const row = await first<{ entry_id: string; account: string; order_id: string | null }>(
        rows,
        `SELECT l.entry_id, l.account, e.order_id FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
         WHERE l.account = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = e.order_id)
         ORDER BY l.id LIMIT 1`,
        [ORDER_ACCOUNTS],
      );
      if (!row) return null;
      return {
        invariant: 'order_account_has_order',
        entryId: row.entry_id,
        account: row.account,
        ...(row.order_id === null ? {} : { orderId: row.order_id }),
        detail:
          row.order_id === null
            ? `Entry ${row.entry_id} moves ${row.account} without naming an order`
            : `Entry ${row.entry_id} moves ${row.account} for order ${row.order_id}, which does not exist`,
      };
    },
  },
  {
    invariant: 'order_deposits_not_negative',
    async firstViolation(rows) {
      // Transfers held for an order (−Σ of its order_deposits lines) can be applied or released, never overdrawn.
      const row = await first<{ order_id: string; held: string }>(
        rows,
        `SELECT e.order_id, (-SUM(l.amount))::text AS held
         FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
         WHERE l.account = $1 AND e.order_id IS NOT NULL
         GROUP BY e.order_id HAVING SUM(l.amount) > 0 ORDER BY e.order_id LIMIT 1`,
        [LedgerAccount.OrderDeposits],
      );
      return row
        ? {
            invariant: 'order_deposits_not_negative',
            account: LedgerAccount.OrderDeposits,
            orderId: row.order_id,
            detail: `Order ${row.order_id} has applied or released more transfers than it received: held ${row.held} fen`,
          }
        : null;
    },
  },
  {
    invariant: 'unissued_matches_order',
    async firstViolation(rows) {
      const row = await first<{
        id: string;
        enterprise_id: string;
        status: string;
        face_total: string;
        balance: string;
        minted: string;
      }>(
        rows,
        `SELECT o.id, o.enterprise_id, o.status, o.face_total::text AS face_total, o.balance::text AS balance,
                o.minted::text AS minted
         FROM (
           SELECT o.id, o.enterprise_id, o.status, o.face_total, COALESCE(u.balance, 0) AS balance,
                  COALESCE(m.minted, 0) AS minted
           FROM orders o
           LEFT JOIN (
             SELECT e.order_id, SUM(l.amount) AS balance
             FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
             WHERE l.account = $1 AND e.order_id IS NOT NULL
             GROUP BY e.order_id
           ) u ON u.order_id = o.id
           LEFT JOIN (
             SELECT order_id, SUM(issued_count::bigint * face_value) AS minted FROM issuance_batches GROUP BY order_id
           ) m ON m.order_id = o.id
         ) o
         WHERE CASE
           WHEN o.status = 'paid' THEN o.balance <> -o.face_total
           WHEN o.status = ANY($2::text[]) THEN o.balance <> 0
           WHEN o.status = ANY($3::text[]) THEN o.balance <> o.minted - o.face_total
           ELSE true
         END
         ORDER BY o.id LIMIT 1`,
        [LedgerAccount.UnissuedOrders, UNPAID_STATUSES, ISSUING_STATUSES],
      );
      if (!row) return null;
      const balance = BigInt(row.balance);
      const face = BigInt(row.face_total);
      const expected =
        row.status === 'paid'
          ? `${-face}`
          : (UNPAID_STATUSES as readonly string[]).includes(row.status)
            ? '0'
            : (ISSUING_STATUSES as readonly string[]).includes(row.status)
              ? `${BigInt(row.minted) - face} (face value of the cards not minted yet)`
              : `nothing: '${row.status}' is not an order status`;
      return {
        invariant: 'unissued_matches_order',
        account: LedgerAccount.UnissuedOrders,
        enterpriseId: row.enterprise_id,
        orderId: row.id,
        detail: `Order ${row.id} is ${row.status} with face total ${face} fen: its unissued_orders balance is ${balance} fen, expected ${expected}`,
      };
    },
  },
  {
    invariant: 'card_float_matches_cards',
    async firstViolation(rows) {
      const row = await first<{ float: string; balances: string }>(
        rows,
        `SELECT (SELECT -COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = $1)::text AS float,
                (SELECT COALESCE(SUM(balance), 0) FROM cards)::text AS balances`,
        [LedgerAccount.CardFloat],
      );
      if (!row || row.float === row.balances) return null;
      return {
        invariant: 'card_float_matches_cards',
        account: LedgerAccount.CardFloat,
        detail: `card_float holds ${row.float} fen but the cards' balances add up to ${row.balances} fen`,
      };
    },
  },
];
