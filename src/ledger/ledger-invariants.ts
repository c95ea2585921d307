import type { EntityManager } from 'typeorm';
import type { OrderStatus } from '../orders/order-state';
import { ENTERPRISE_ACCOUNTS, LedgerAccount } from './ledger.entity';

/** The first breach an invariant check finds; ids name where to look. */
export interface LedgerViolation {
  invariant: LedgerInvariant;
  entryId?: string;
  account?: string;
  enterpriseId?: string;
  orderId?: string;
  detail: string;
}

export interface LedgerInvariantCheck {
  invariant: LedgerInvariant;
  /** One SQL statement (aggregates, LIMIT 1): never loads the table into memory. */
  firstViolation(manager: EntityManager): Promise<LedgerViolation | null>;
}

export const LEDGER_INVARIANTS = [
  'entry_sums_to_zero',
  'entry_has_two_lines',
  'line_has_entry',
  'account_known',
  'account_enterprise_scope',
  'prepaid_not_negative',
  'receivable_not_negative',
  'order_account_has_order',
  'order_deposits_not_negative',
  'unissued_matches_order',
  'card_float_matches_cards',
] as const;

export type LedgerInvariant = (typeof LEDGER_INVARIANTS)[number];

/** Before payment, or closed without payment kept: no unissued value may remain. */
const UNPAID_STATUSES = [
  'pending_approval',
  'pending_payment',
  'rejected',
  'cancelled',
] as const satisfies readonly OrderStatus[];
/**
 * Issuance moves value out of unissued_orders into card_float chunk by chunk:
 * what remains is the face value of the cards not minted yet.
 */
const ISSUING_STATUSES = [
  'issuing',
  'issued',
  'completed',
  'partially_refunded',
  'refunded',
] as const satisfies readonly OrderStatus[];

const ACCOUNT_VALUES = Object.values(LedgerAccount);
/** Accounts whose lines belong to the order their entry names. */
const ORDER_ACCOUNTS = [LedgerAccount.UnissuedOrders, LedgerAccount.OrderDeposits];
const ENTERPRISE_ACCOUNT_VALUES = [...ENTERPRISE_ACCOUNTS];

async function first<T>(manager: EntityManager, sql: string, parameters: unknown[] = []): Promise<T | undefined> {
  const rows = await manager.query<T[]>(sql, parameters);
  return rows[0];
}

/**
 * Every invariant the ledger can check today, in the order verify() runs them
 * (it reports the first violation of the first failing check). Sums come back
 * as text: they are numeric in SQL and only shown in the detail.
 */
export const LEDGER_INVARIANT_CHECKS: readonly LedgerInvariantCheck[] = [
  {
    invariant: 'entry_sums_to_zero',
    async firstViolation(manager) {
      const row = await first<{ entry_id: string; total: string }>(
        manager,
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
    async firstViolation(manager) {
      const row = await first<{ id: string; lines: number }>(
        manager,
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
    async firstViolation(manager) {
      const row = await first<{ entry_id: string; account: string }>(
        manager,
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
    async firstViolation(manager) {
      const row = await first<{ entry_id: string; account: string }>(
        manager,
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
    async firstViolation(manager) {
      const row = await first<{ entry_id: string; account: string; enterprise_id: string | null }>(
        manager,
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
    async firstViolation(manager) {
      // The prepaid balance is −Σ prepaid lines (a liability): negative when the debits win.
      const row = await first<{ enterprise_id: string; balance: string }>(
        manager,
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
    async firstViolation(manager) {
      const row = await first<{ enterprise_id: string; balance: string }>(
        manager,
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
    async firstViolation(manager) {
      const row = await first<{ entry_id: string; account: string; order_id: string | null }>(
        manager,
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
    async firstViolation(manager) {
      // Transfers held for an order (−Σ of its order_deposits lines) can be applied or released, never overdrawn.
      const row = await first<{ order_id: string; held: string }>(
        manager,
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
    async firstViolation(manager) {
      const row = await first<{
        id: string;
        enterprise_id: string;
        status: string;
        face_total: string;
        balance: string;
        minted: string;
      }>(
        manager,
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
    async firstViolation(manager) {
      const row = await first<{ float: string; balances: string }>(
        manager,
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
