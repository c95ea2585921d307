/** The first breach an invariant check finds; ids name where to look. */
export interface LedgerViolation {
  invariant: LedgerInvariant;
  entryId?: string;
  account?: string;
  enterpriseId?: string;
  orderId?: string;
  detail: string;
}

/** Sends one statement and answers its rows (a repository's connection, bound to its context). */
export type SqlRows = <T>(sql: string, parameters?: unknown[]) => Promise<T[]>;

export interface LedgerInvariantCheck {
  invariant: LedgerInvariant;
  /** One SQL statement (aggregates, LIMIT 1): never loads the table into memory. */
  firstViolation(rows: SqlRows): Promise<LedgerViolation | null>;
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

/**
 * Order statuses, named here as plain text because the ledger does not depend on orders (orders depends on the
 * ledger); src/orders/order-state.spec.ts checks that both lists name real statuses and cover every one that
 * holds unissued value. Before payment, or closed without payment kept: no unissued value may remain.
 */
export const UNPAID_STATUSES = ['pending_approval', 'pending_payment', 'rejected', 'cancelled'] as const;
/**
 * Issuance moves value out of unissued_orders into card_float chunk by chunk:
 * what remains is the face value of the cards not minted yet.
 */
export const ISSUING_STATUSES = ['issuing', 'issued', 'completed', 'partially_refunded', 'refunded'] as const;
