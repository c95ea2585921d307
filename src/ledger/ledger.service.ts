import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In } from 'typeorm';
import { TransactionalConnection } from '../database/transactional-connection';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { newId } from '../common/ids';
import { type Page, paginate } from '../common/pagination/pagination';
import { BalanceDto } from './dto/balance.dto';
import { LedgerEntryDto } from './dto/ledger-entry.dto';
import { LedgerVerificationDto, LedgerViolationDto } from './dto/ledger-verification.dto';
import type { ListLedgerEntriesQueryDto } from './dto/list-ledger-entries-query.dto';
import { LEDGER_INVARIANT_CHECKS } from './ledger-invariants';
import { enterprisesTouched, type LedgerPosting, validatePosting } from './ledger-posting';
import { ENTERPRISE_ACCOUNTS, LedgerAccount, LedgerEntry, LedgerLine } from './ledger.entity';

/**
 * Namespace (first key) of the two-key advisory locks on an enterprise's funds;
 * the second key is hashtext(enterpriseId). Distinct from 7301 (idempotency keys).
 */
export const LEDGER_FUNDS_LOCK = 7_302;

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
 * The double-entry ledger (DESIGN.md §6). Amounts are signed fen, debit
 * positive, credit negative; every entry sums to zero. Balances are never
 * stored: each is a sum over the append-only lines, computed when asked.
 *
 * Writes happen only inside the caller's transaction (the EntityManager it
 * passes), so an entry commits or rolls back with the state change it records.
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
  constructor(
    private readonly dataSource: DataSource,
    private readonly connection: TransactionalConnection,
  ) {}

  /**
   * Writes one balanced entry and its lines (one statement) in the
   * caller's transaction, recording ctx.requestId. Refuses, with a plain Error
   * (LedgerPostingError: a programming error, so the transaction rolls back and
   * the request answers 500), any posting validatePosting rejects, and any call
   * made outside a transaction or outside the context's bound transaction.
   */
  async post(ctx: RequestContext, entry: LedgerPosting): Promise<LedgerEntry> {
    validatePosting(entry);
    const manager = this.connection.transactionManager(ctx, 'LedgerService.post');
    for (const enterpriseId of enterprisesTouched(entry)) await this.lockEnterpriseFunds(ctx, enterpriseId);

    const record = manager.create(LedgerEntry, {
      id: newId('journalEntry'),
      kind: entry.kind,
      memo: entry.memo,
      enterpriseId: entry.enterpriseId ?? null,
      orderId: entry.orderId ?? null,
      paymentId: entry.paymentId ?? null,
      requestId: ctx.requestId,
    });
    // The entry and its lines in one statement (one round trip on every money movement's hot path).
    const values: unknown[] = [
      record.id,
      record.kind,
      record.memo,
      record.enterpriseId,
      record.orderId,
      record.paymentId,
      record.requestId,
    ];
    const lines = entry.lines.map((line) => {
      values.push(line.account, line.enterpriseId ?? null, line.amount);
      const at = values.length;
      return `($1, $${at - 2}, $${at - 1}, $${at}::bigint)`;
    });
    const [{ created_at: createdAt }] = await manager.query<Array<{ created_at: Date }>>(
      `WITH e AS (
         INSERT INTO ledger_entries (id, kind, memo, enterprise_id, order_id, payment_id, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at),
       l AS (INSERT INTO ledger_lines (entry_id, account, enterprise_id, amount) VALUES ${lines.join(', ')})
       SELECT created_at FROM e`,
      values,
    );
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
    const manager = this.connection.transactionManager(ctx, 'LedgerService.lockEnterpriseFunds');
    await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LEDGER_FUNDS_LOCK, enterpriseId]);
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
    const manager = this.connection.manager(ctx);
    if (enterpriseId !== undefined) {
      if (!ENTERPRISE_ACCOUNTS.has(account))
        throw new Error(`${account} is a platform account: it has no enterpriseId`);
      const rows = await manager.query<{ total: string }[]>(
        'SELECT COALESCE(SUM(amount), 0)::text AS total FROM ledger_lines WHERE account = $1 AND enterprise_id = $2',
        [account, enterpriseId],
      );
      return fen(rows[0].total);
    }
    const rows = await manager.query<{ total: string }[]>(
      'SELECT COALESCE(SUM(amount), 0)::text AS total FROM ledger_lines WHERE account = $1',
      [account],
    );
    return fen(rows[0].total);
  }

  /** Σ of one account's lines in the entries of one order, signed as posted (unissued_orders: −face while paid). */
  async orderBalance(ctx: RequestContext, orderId: string, account: LedgerAccount): Promise<number> {
    const manager = this.connection.manager(ctx);
    const rows = await manager.query<{ total: string }[]>(
      `SELECT COALESCE(SUM(l.amount), 0)::text AS total
       FROM ledger_entries e JOIN ledger_lines l ON l.entry_id = e.id
       WHERE e.order_id = $1 AND l.account = $2`,
      [orderId, account],
    );
    return fen(rows[0].total);
  }

  /**
   * Prepaid balance, credit limit (from the enterprise) and credit used of one
   * enterprise in a single statement, so the figures agree with each other;
   * null when the enterprise does not exist. Lock first if you will spend.
   */
  async fundsOf(ctx: RequestContext, enterpriseId: string): Promise<EnterpriseFunds | null> {
    const manager = this.connection.manager(ctx);
    const rows = await manager.query<{ credit_limit: string; prepaid: string; receivable: string; held: string }[]>(
      `SELECT e.credit_limit::text AS credit_limit,
         (SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = $2 AND enterprise_id = e.id)::text AS prepaid,
         (SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = $3 AND enterprise_id = e.id)::text AS receivable,
         (SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = $4 AND enterprise_id = e.id)::text AS held
       FROM enterprises e WHERE e.id = $1`,
      [enterpriseId, LedgerAccount.Prepaid, LedgerAccount.Receivable, LedgerAccount.OrderDeposits],
    );
    if (rows.length === 0) return null;
    const creditLimit = fen(rows[0].credit_limit);
    const creditUsed = fen(rows[0].receivable);
    return {
      prepaidBalance: fen(-fen(rows[0].prepaid)),
      heldForOrders: fen(-fen(rows[0].held)),
      creditLimit,
      creditUsed,
      creditAvailable: Math.max(0, creditLimit - creditUsed),
    };
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
    const run = async (manager: EntityManager): Promise<LedgerVerificationDto> => {
      const counted = await manager.query<{ n: string }[]>('SELECT COUNT(*)::text AS n FROM ledger_entries');
      const entriesChecked = fen(counted[0].n);
      for (const check of LEDGER_INVARIANT_CHECKS) {
        const violation = await check.firstViolation(manager);
        if (violation) {
          return {
            object: 'ledger_verification',
            ok: false,
            entries_checked: entriesChecked,
            first_violation: LedgerViolationDto.from(violation),
          };
        }
      }
      return { object: 'ledger_verification', ok: true, entries_checked: entriesChecked, first_violation: null };
    };
    const bound = ctx.transaction?.manager;
    if (bound) return run(bound);
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      await manager.query('SET TRANSACTION READ ONLY');
      return run(manager);
    });
  }

  /** Entries newest first, with their lines (one query for the page, one for its lines). */
  async listEntries(ctx: RequestContext, query: ListLedgerEntriesQueryDto): Promise<Page<LedgerEntryDto>> {
    const manager = this.reader(ctx);
    const builder = manager.createQueryBuilder(LedgerEntry, 'entry');
    if (query.enterprise_id)
      builder.andWhere('entry.enterpriseId = :enterpriseId', { enterpriseId: query.enterprise_id });
    if (query.order_id) builder.andWhere('entry.orderId = :orderId', { orderId: query.order_id });
    if (query.kind) builder.andWhere('entry.kind = :kind', { kind: query.kind });
    const page = await paginate(builder, query, (entry) => entry);
    const lines =
      page.data.length === 0
        ? []
        : await manager.find(LedgerLine, {
            where: { entryId: In(page.data.map((entry) => entry.id)) },
            order: { id: 'ASC' },
          });
    const byEntry = new Map<string, LedgerLine[]>();
    for (const line of lines) {
      const list = byEntry.get(line.entryId);
      if (list) list.push(line);
      else byEntry.set(line.entryId, [line]);
    }
    return { ...page, data: page.data.map((entry) => LedgerEntryDto.from(entry, byEntry.get(entry.id) ?? [])) };
  }

  /** Reads join the request's open transaction, so they see its own uncommitted writes. */
  private reader(ctx: RequestContext): EntityManager {
    return ctx.transaction?.manager ?? this.dataSource.manager;
  }
}
