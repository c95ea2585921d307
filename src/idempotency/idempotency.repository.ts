import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { SealedColumnQueries } from '../database/sealed-column-sql';
import { TransactionalConnection } from '../database/transactional-connection';
import { IdempotencyKey } from './idempotency-key.entity';

/** Namespace of the two-key advisory locks on Idempotency-Keys (others use other namespaces). */
export const IDEMPOTENCY_LOCK_NAMESPACE = 7_301;
/** The primary key of idempotency_keys: a unique violation on it means another request stored the key first. */
export const IDEMPOTENCY_KEY_CONSTRAINT = 'PK_9cf44f13e0f6543341a0c80108e';

export interface StoredResponse {
  fingerprint: string;
  responseBody: object | null;
}

/** A key claimed for a request whose own single statement stores its response (see idempotencyKeySql). */
export interface IdempotencyClaim {
  clientId: string;
  key: string;
  fingerprint: string;
  responseStatus: number;
  /** The response as stored (sealed by the interceptor). */
  seal(body: object): object;
}

/** The SQL for one CTE and the parameters it uses, numbered from the caller's `firstParam`. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/**
 * For a writer that claims and stores its key in its own statement (the look-up, the lock and the store in the
 * one round trip of its writes): `stored` is a CTE body yielding the key's stored response (fingerprint,
 * response_body) if there is one, `lock` a CTE body yielding one row `locked` (pg_try_advisory_xact_lock on the key,
 * held to the statement's or transaction's end), `insert` a CTE body that stores the response when `condition` (an
 * SQL boolean over the caller's CTEs; the caller makes it false when a response is stored) holds. A plain INSERT: a
 * key another request stored after the statement's snapshot fails the whole statement with a unique violation on
 * IDEMPOTENCY_KEY_CONSTRAINT (isStoredKeyConflict), and the interceptor then answers with that request's response.
 */
export function idempotencyKeySql(
  claim: IdempotencyClaim,
  body: object,
  firstParam: number,
  condition: string,
): { stored: string; lock: string; insert: string; params: unknown[] } {
  const p = (offset: number) => `$${firstParam + offset}`;
  return {
    stored: `SELECT fingerprint, response_body FROM idempotency_keys WHERE client_id = ${p(2)} AND key = ${p(3)}`,
    lock: `SELECT pg_try_advisory_xact_lock(${p(0)}::int, hashtext(${p(1)})) AS locked`,
    insert: `INSERT INTO idempotency_keys (client_id, key, fingerprint, response_status, response_body)
             SELECT ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}::int, ${p(6)}::jsonb WHERE ${condition}`,
    params: [
      IDEMPOTENCY_LOCK_NAMESPACE,
      `${claim.clientId}:${claim.key}`,
      claim.clientId,
      claim.key,
      claim.fingerprint,
      claim.responseStatus,
      JSON.stringify(claim.seal(body)),
    ],
  };
}

/** The `idempotency_keys` table (docs/architecture.md: the idempotency module owns it). */
@Injectable()
export class IdempotencyRepository {
  /** Key rotation's census, page and reseal of the stored responses (src/data-keys/sealed-columns.ts). */
  readonly sealedColumns: SealedColumnQueries;

  constructor(private readonly connection: TransactionalConnection) {
    this.sealedColumns = new SealedColumnQueries(connection, ['idempotency_keys']);
  }

  /** Try-locks the key for the caller's transaction: false while another request holds it. */
  async tryLock(ctx: RequestContext, clientId: string, key: string): Promise<boolean> {
    const [{ locked }] = await this.connection.query<Array<{ locked: boolean }>>(
      ctx,
      'SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked',
      [IDEMPOTENCY_LOCK_NAMESPACE, `${clientId}:${key}`],
    );
    return locked;
  }

  async find(ctx: RequestContext, clientId: string, key: string): Promise<StoredResponse | null> {
    const rows = await this.connection.query<Array<{ fingerprint: string; response_body: object | null }>>(
      ctx,
      'SELECT fingerprint, response_body FROM idempotency_keys WHERE client_id = $1 AND key = $2',
      [clientId, key],
    );
    return rows.length === 0 ? null : { fingerprint: rows[0].fingerprint, responseBody: rows[0].response_body };
  }

  async insert(
    ctx: RequestContext,
    row: { clientId: string; key: string; fingerprint: string; responseStatus: number; responseBody: object },
  ): Promise<void> {
    await this.connection.query(
      ctx,
      `INSERT INTO idempotency_keys (client_id, key, fingerprint, response_status, response_body)
       VALUES ($1, $2, $3, $4, $5::jsonb)`,
      [row.clientId, row.key, row.fingerprint, row.responseStatus, JSON.stringify(row.responseBody)],
    );
  }

  /** Deletes keys stored more than `hours` ago; how many. */
  async purgeOlderThan(ctx: RequestContext, hours: number): Promise<number> {
    const result = await this.connection
      .manager(ctx)
      .createQueryBuilder()
      .delete()
      .from(IdempotencyKey)
      .where('created_at < now() - make_interval(hours => :hours)', { hours })
      .execute();
    return result.affected ?? 0;
  }
}

/** True for the unique violation a concurrent request's stored key causes (see idempotencyKeySql). */
export function isStoredKeyConflict(error: unknown): boolean {
  const driverError = error as { code?: string; constraint?: string; driverError?: { constraint?: string } };
  return (
    driverError?.code === '23505' &&
    (driverError.constraint ?? driverError.driverError?.constraint) === IDEMPOTENCY_KEY_CONSTRAINT
  );
}
