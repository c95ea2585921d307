import type { Scope } from '../access/scopes';
// The context only carries the transaction; repositories use it through src/database/transactional-connection.ts.
// eslint-disable-next-line no-restricted-imports
import type { EntityManager } from 'typeorm';
import { ApiError } from '../errors/api-error';
import { newId } from '../ids';

/** Who is calling: an API client, bound to one enterprise unless it is an operator client. */
export interface Actor {
  clientId: string;
  enterpriseId: string | null;
  scopes: ReadonlySet<Scope>;
}

/**
 * The transaction a request context carries while one is open (TransactionService binds it). Its manager is for
 * repositories only, through TransactionalConnection (docs/architecture.md).
 */
export interface BoundTransaction {
  manager: EntityManager;
  afterCommit: Array<() => void | Promise<void>>;
}

/**
 * Passed first to every service method: the caller, the request id and, while
 * one is open, the transaction that all of the request's writes join.
 */
export class RequestContext {
  private bound?: BoundTransaction;

  constructor(
    readonly requestId: string,
    readonly actor: Actor | null,
    readonly ip: string | null = null,
  ) {}

  /** A context for work no HTTP request started: boot, jobs, scripts. */
  static system(): RequestContext {
    return new RequestContext(newId('request'), null);
  }

  get isOperator(): boolean {
    return this.actor !== null && this.actor.enterpriseId === null && this.actor.scopes.has('admin');
  }

  /** The caller's tenant; enterprise-scoped endpoints call this and never trust a body field. */
  get enterpriseId(): string {
    const id = this.actor?.enterpriseId;
    if (!id) throw ApiError.forbidden('enterprise_client_required', 'This endpoint is for enterprise API clients');
    return id;
  }

  get clientId(): string | null {
    return this.actor?.clientId ?? null;
  }

  get transaction(): BoundTransaction | undefined {
    return this.bound;
  }

  bindTransaction(transaction: BoundTransaction | undefined): void {
    this.bound = transaction;
  }
}
