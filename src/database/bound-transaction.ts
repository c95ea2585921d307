import type { EntityManager } from 'typeorm';

/**
 * The transaction a request context carries while one is open (TransactionService binds it). Its manager is for
 * repositories only, through TransactionalConnection (docs/architecture.md).
 */
export interface BoundTransaction {
  manager: EntityManager;
  afterCommit: Array<() => void | Promise<void>>;
}
