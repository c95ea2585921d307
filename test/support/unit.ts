import type { EntityManager } from 'typeorm';
import type { AuditEntry, AuditService } from '../../src/audit/audit.service';
import type { CardRow } from '../../src/cards/cards.repository';
import type { Scope } from '../../src/common/access/scopes';
import { RequestContext } from '../../src/common/context/request-context';
import { ApiError } from '../../src/common/errors/api-error';
import type { TransactionService } from '../../src/database/transaction.service';

/**
 * Hand-written stand-ins for the unit tier (services against fakes of their repositories, no database): a
 * TransactionService that binds a context to a pretend transaction and runs the after-commit callbacks only when
 * the work succeeded (keeping their errors, as the real one logs them), an audit that remembers its entries, and contexts for callers.
 */
export class FakeTransactions {
  /** Transactions opened (not joined) so far. */
  opened = 0;
  /** Errors of after-commit callbacks. */
  readonly failedCallbacks: unknown[] = [];

  async run<T>(ctx: RequestContext, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const open = ctx.transaction;
    if (open) return work(open.manager);
    this.opened++;
    const afterCommit: Array<() => void | Promise<void>> = [];
    const manager = {} as EntityManager;
    ctx.bindTransaction({ manager, afterCommit });
    let result: T;
    try {
      result = await work(manager);
    } finally {
      ctx.bindTransaction(undefined);
    }
    // As TransactionService: a failed callback is the callback's problem (logged there), not the committed work's.
    for (const callback of afterCommit) {
      try {
        await callback();
      } catch (error) {
        this.failedCallbacks.push(error);
      }
    }
    return result;
  }

  async afterCommit(ctx: RequestContext, callback: () => void | Promise<void>): Promise<void> {
    const open = ctx.transaction;
    if (open) open.afterCommit.push(callback);
    else await callback();
  }

  get service(): TransactionService {
    return this as unknown as TransactionService;
  }
}

export class FakeAudit {
  readonly entries: AuditEntry[] = [];
  /** Whether each entry was recorded inside a transaction. */
  readonly inTransaction: boolean[] = [];

  /** Returns the record's id: `aud_<its index>`. */
  async record(ctx: RequestContext, entry: AuditEntry): Promise<string> {
    this.entries.push(entry);
    this.inTransaction.push(ctx.transaction !== undefined);
    return `aud_${this.entries.length - 1}`;
  }

  async append(ctx: RequestContext, entry: AuditEntry): Promise<string> {
    return this.record(ctx, entry);
  }

  async summaryOf(_ctx: RequestContext, id: string): Promise<unknown> {
    const match = /^aud_(\d+)$/.exec(id);
    return (match && this.entries[Number(match[1])]?.summary) ?? null;
  }

  async appendAll(ctx: RequestContext, entries: readonly AuditEntry[]): Promise<void> {
    for (const entry of entries) await this.record(ctx, entry);
  }

  actions(): string[] {
    return this.entries.map((entry) => entry.action);
  }

  get service(): AuditService {
    return this as unknown as AuditService;
  }
}

/** A request context of an API client (of `enterpriseId`; null: an operator client with `admin`). */
export function clientContext(clientId: string, enterpriseId: string | null, scopes: Scope[]): RequestContext {
  return new RequestContext(`req_${clientId}`, { clientId, enterpriseId, scopes: new Set(scopes) }, '203.0.113.7');
}

export function operatorContext(clientId = 'cli_operator'): RequestContext {
  return clientContext(clientId, null, ['admin']);
}

/** Expects `promise` to reject with an ApiError of this status and code. */
export async function expectApiError(promise: Promise<unknown>, status: number, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ApiError);
  expect({ status: (error as ApiError).getStatus(), code: (error as ApiError).code }).toEqual({ status, code });
}

/**
 * A card as CardsRepository reads it, for services tested against a fake of it: an active anonymous card of 100 CNY
 * still holding its face value, of order ord_1, unbound, with `overrides` on top.
 */
export function cardRow(overrides: Partial<CardRow> & Pick<CardRow, 'serial'>): CardRow {
  return {
    orderId: 'ord_1',
    batchId: 'bat_1',
    enterpriseId: 'ent_1',
    cardType: 'anonymous',
    productId: 'prd_1',
    faceValue: 10_000,
    balance: 10_000,
    status: 'active',
    expiresAt: null,
    holderRef: null,
    boundClientId: null,
    frozenFrom: null,
    pinHash: null,
    codeKeyId: null,
    secretCiphertext: null,
    replacedBy: null,
    ...overrides,
  };
}

/** The error `action` throws; the test fails when it throws none. */
export function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
