import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { BalanceDto } from './dto/balance.dto';
import { LedgerEntryDto } from './dto/ledger-entry.dto';
import { LedgerVerificationDto, LedgerViolationDto } from './dto/ledger-verification.dto';
import type { ListLedgerEntriesQueryDto } from './dto/list-ledger-entries-query.dto';
import { LedgerRepository, type StatementSums } from './ledger.repository';
import { enterprisesTouched, type LedgerPosting, validatePosting } from './ledger-posting';
import { ENTERPRISE_ACCOUNTS, LedgerAccount, LedgerEntry, type LedgerLine } from './ledger.entity';

export { LEDGER_FUNDS_LOCK } from './ledger.repository';

/** An enterprise's funds, read in one statement (one snapshot). Fen. */
export interface EnterpriseFunds {
  prepaidBalance: number;
  /** Transfers received for bank_transfer orders that are not paid yet. */
  heldForOrders: number;
  creditLimit: number;
  creditUsed: number;
  /** max(0, creditLimit − creditUsed). */
  creditAvailable: number;
}

/** Σ in SQL is numeric; it comes back as text and must stay a safe integer of fen. */
function fen(value: string | number | null | undefined): number {
  const parsed = Number(value ?? 0);
  if (!Number.isSafeInteger(parsed)) throw new RangeError(`ledger sum ${String(value)} exceeds the safe integer range`);
  // −0 (from negating an empty sum) is 0.
  return parsed === 0 ? 0 : parsed;
}

/**
 * The double-entry ledger (README.md, "The ledger"). Amounts are signed fen, debit
 * positive, credit negative; every entry sums to zero. Balances are never
 * stored: each is a sum over the append-only lines, computed when asked.
 *
 * Writes happen only inside the transaction bound to the caller's context, so
 * an entry commits or rolls back with the state change it records.
 *
 * Serialisation: every balance-changing posting for an enterprise holds that
 * enterprise's funds lock (lockEnterpriseFunds) — post() takes it for each
 * enterprise its lines touch. A caller that spends a balance (pays from
 * prepaid, draws on the credit line) must call lockEnterpriseFunds BEFORE it
 * reads the balance it checks, and post in the same transaction: the lock is
 * held until that transaction ends, so no concurrent posting can change the
 * balance between the check and the spend.
 */
@Injectable()
export class LedgerService {
  constructor(private readonly ledger: LedgerRepository) {}

  /**
   * Writes one balanced entry and its lines (one statement) in the
   * caller's transaction, recording ctx.requestId. Refuses, with a plain Error
   * (LedgerPostingError: a programming error, so the transaction rolls back and
   * the request answers 500), any posting validatePosting rejects, and any call
   * made outside a transaction or outside the context's bound transaction.
   */
  async post(ctx: RequestContext, entry: LedgerPosting): Promise<LedgerEntry> {
    validatePosting(entry);
    for (const enterpriseId of enterprisesTouched(entry)) await this.lockEnterpriseFunds(ctx, enterpriseId);
    const record = Object.assign(new LedgerEntry(), {
      id: newId('journalEntry'),
      kind: entry.kind,
      memo: entry.memo,
      enterpriseId: entry.enterpriseId ?? null,
      orderId: entry.orderId ?? null,
      paymentId: entry.paymentId ?? null,
      requestId: ctx.requestId,
    });
    const createdAt = await this.ledger.insertEntry(ctx, record, entry);
    record.createdAt = createdAt;
    return record;
  }

  /**
   * Takes the transaction-scoped advisory lock on an enterprise's funds
   * (pg_advisory_xact_lock(LEDGER_FUNDS_LOCK, hashtext(enterpriseId))), waiting
   * for any other transaction holding it; released when the caller's
   * transaction ends. Re-entrant within one transaction. Call it before reading
   * a balance you are about to spend; lock several enterprises in sorted order.
   */
  async lockEnterpriseFunds(ctx: RequestContext, enterpriseId: string): Promise<void> {
    await this.ledger.lockEnterpriseFunds(ctx, enterpriseId);
  }

  /** The enterprise's prepaid funds not yet spent: −Σ of its prepaid lines (a liability), in fen. */
  async prepaidBalance(ctx: RequestContext, enterpriseId: string): Promise<number> {
    return -(await this.accountBalance(ctx, LedgerAccount.Prepaid, enterpriseId)) || 0;
  }

  /** Credit the enterprise has drawn and not repaid: Σ of its receivable lines (an asset), in fen. */
  async creditUsed(ctx: RequestContext, enterpriseId: string): Promise<number> {
    return this.accountBalance(ctx, LedgerAccount.Receivable, enterpriseId);
  }

  /**
   * Σ of an account's lines, signed as posted (debit positive): a credit-normal
   * account (prepaid, unissued_orders, card_float, revenue_redeemed, breakage)
   * has a negative balance. For prepaid and receivable, pass enterpriseId for one
   * enterprise, or leave it out for the total over all enterprises; a platform
   * account takes no enterpriseId (an Error otherwise).
   */
  async accountBalance(ctx: RequestContext, account: LedgerAccount, enterpriseId?: string): Promise<number> {
    if (enterpriseId !== undefined && !ENTERPRISE_ACCOUNTS.has(account)) {
      throw new Error(`${account} is a platform account: it has no enterpriseId`);
    }
    return fen(await this.ledger.accountSum(ctx, account, enterpriseId));
  }

  /** Σ of one account's lines in the entries of one order, signed as posted (unissued_orders: −face while paid). */
  async orderBalance(ctx: RequestContext, orderId: string, account: LedgerAccount): Promise<number> {
    return fen(await this.ledger.orderSum(ctx, orderId, account));
  }

  /**
   * Prepaid balance, credit limit (from the enterprise) and credit used of one
   * enterprise in a single statement, so the figures agree with each other;
   * null when the enterprise does not exist. Lock first if you will spend.
   */
  async fundsOf(ctx: RequestContext, enterpriseId: string): Promise<EnterpriseFunds | null> {
    const row = await this.ledger.funds(ctx, enterpriseId);
    if (!row) return null;
    const creditLimit = fen(row.credit_limit);
    const creditUsed = fen(row.receivable);
    return {
      prepaidBalance: fen(-fen(row.prepaid)),
      heldForOrders: fen(-fen(row.held)),
      creditLimit,
      creditUsed,
      creditAvailable: Math.max(0, creditLimit - creditUsed),
    };
  }

  /** An enterprise's balances at `from` and `to` and its movements by entry kind in between (statements). */
  statementSums(ctx: RequestContext, enterpriseId: string, from: Date, to: Date): Promise<StatementSums> {
    return this.ledger.statementSums(ctx, enterpriseId, from, to);
  }

  /** The enterprises named by an entry booked in [from, to), sorted. */
  enterprisesWithEntries(ctx: RequestContext, from: Date, to: Date): Promise<string[]> {
    return this.ledger.enterprisesWithEntries(ctx, from, to);
  }

  /** GET /v1/balance: the calling enterprise client's own funds. */
  async balance(ctx: RequestContext): Promise<BalanceDto> {
    const enterpriseId = ctx.enterpriseId;
    const funds = await this.fundsOf(ctx, enterpriseId);
    if (!funds) throw ApiError.notFound('enterprise', enterpriseId);
    return {
      object: 'balance',
      currency: 'CNY',
      prepaid_balance: funds.prepaidBalance,
      held_for_orders: funds.heldForOrders,
      credit_limit: funds.creditLimit,
      credit_used: funds.creditUsed,
      credit_available: funds.creditAvailable,
    };
  }

  /**
   * Checks every invariant (LEDGER_INVARIANT_CHECKS, each one SQL aggregate) and
   * reports the first violation. Reads through the context's transaction when
   * one is bound (it then sees that transaction's own writes); otherwise in a
   * read-only REPEATABLE READ transaction, so every check sees one snapshot.
   */
  async verify(ctx: RequestContext): Promise<LedgerVerificationDto> {
    const { entries, violation } = await this.ledger.verify(ctx);
    return {
      object: 'ledger_verification',
      ok: violation === null,
      entries_checked: fen(entries),
      first_violation: violation ? LedgerViolationDto.from(violation) : null,
    };
  }

  /** Entries newest first, with their lines (one query for the page, one for its lines). */
  async listEntries(ctx: RequestContext, query: ListLedgerEntriesQueryDto): Promise<Page<LedgerEntryDto>> {
    const { page, lines } = await this.ledger.listEntries(
      ctx,
      { enterpriseId: query.enterprise_id, orderId: query.order_id, kind: query.kind },
      query,
    );
    const byEntry = new Map<string, LedgerLine[]>();
    for (const line of lines) {
      const list = byEntry.get(line.entryId);
      if (list) list.push(line);
      else byEntry.set(line.entryId, [line]);
    }
    return { ...page, data: page.data.map((entry) => LedgerEntryDto.from(entry, byEntry.get(entry.id) ?? [])) };
  }
}
