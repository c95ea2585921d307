import { ENTERPRISE_ACCOUNTS, LedgerAccount } from './ledger.entity';

/** One line of a posting: signed fen, debit positive, credit negative, never zero. */
export interface LedgerLineInput {
  account: LedgerAccount;
  amount: number;
  /** Required for per-enterprise accounts (prepaid, receivable), forbidden for platform accounts. */
  enterpriseId?: string | null;
}

/** A journal entry as a caller asks LedgerService.post to write it. */
export interface LedgerPosting {
  /** What happened, lower snake case (dots allowed): deposit, order_payment, order_cancellation, credit_repayment… */
  kind: string;
  /** Human explanation shown to operators. */
  memo: string;
  enterpriseId?: string | null;
  /** Links the entry to an order: its unissued_orders lines belong to that order. */
  orderId?: string | null;
  paymentId?: string | null;
  lines: ReadonlyArray<LedgerLineInput>;
}

/**
 * A posting that breaks the ledger's rules. It is a programming error, not a
 * client error: it is a plain Error (never an ApiError), so it rolls the
 * caller's transaction back and surfaces as a 500.
 */
export class LedgerPostingError extends Error {
  override readonly name = 'LedgerPostingError';
}

const ACCOUNTS: ReadonlySet<string> = new Set(Object.values(LedgerAccount));
const KIND_PATTERN = /^[a-z][a-z0-9_.]*$/;

function optionalId(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.length > 0);
}

/**
 * The rules of a posting, checked before anything is written: at least two
 * lines, each a known account with a non-zero safe-integer amount, per-enterprise
 * accounts (ENTERPRISE_ACCOUNTS) with an enterprise id and platform accounts
 * without one, and lines summing to exactly zero. Throws LedgerPostingError
 * naming the first broken rule; pure, so it is unit-tested without a database.
 */
export function validatePosting(posting: LedgerPosting): void {
  const fail = (message: string): never => {
    throw new LedgerPostingError(`Refused ledger posting (kind ${JSON.stringify(posting.kind)}): ${message}`);
  };
  if (typeof posting.kind !== 'string' || !KIND_PATTERN.test(posting.kind)) {
    fail('kind must be lower snake case, e.g. order_payment');
  }
  if (typeof posting.memo !== 'string' || posting.memo.trim() === '') fail('memo must not be empty');
  for (const field of ['enterpriseId', 'orderId', 'paymentId'] as const) {
    if (!optionalId(posting[field])) fail(`${field} must be a non-empty string or null`);
  }
  if (!Array.isArray(posting.lines) || posting.lines.length < 2) fail('an entry needs at least two lines');

  // BigInt: the sum of safe integers may itself leave the safe range, and must still be exact.
  let sum = 0n;
  posting.lines.forEach((line, index) => {
    const where = `line ${index} (${String(line.account)})`;
    if (!ACCOUNTS.has(line.account)) fail(`${where}: unknown account`);
    if (!Number.isSafeInteger(line.amount)) fail(`${where}: amount ${line.amount} is not a safe integer of fen`);
    if (line.amount === 0) fail(`${where}: amount is zero (leave the line out)`);
    if (!optionalId(line.enterpriseId)) fail(`${where}: enterpriseId must be a non-empty string or null`);
    const hasEnterprise = typeof line.enterpriseId === 'string';
    if (ENTERPRISE_ACCOUNTS.has(line.account) && !hasEnterprise) {
      fail(`${where}: a per-enterprise account needs an enterpriseId`);
    }
    if (!ENTERPRISE_ACCOUNTS.has(line.account) && hasEnterprise) {
      fail(`${where}: a platform account takes no enterpriseId`);
    }
    sum += BigInt(line.amount);
  });
  if (sum !== 0n) fail(`lines sum to ${sum} fen, not zero`);
}

/** The enterprises whose funds a posting changes, sorted: the order their locks are taken in. */
export function enterprisesTouched(posting: LedgerPosting): string[] {
  const ids = new Set<string>();
  for (const line of posting.lines) {
    if (ENTERPRISE_ACCOUNTS.has(line.account) && typeof line.enterpriseId === 'string') ids.add(line.enterpriseId);
  }
  return [...ids].sort();
}
