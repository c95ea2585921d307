import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import type { RequestContext } from '../common/context/request-context';
import { isId } from '../common/ids';
import { SealedColumnQueries } from '../database/sealed-column-sql';
import { TransactionalConnection } from '../database/transactional-connection';

/**
 * The cards' secrets (secret_ciphertext, and the blind index code_hash/pin_hash/code_key_id) as the modules that
 * move them in bulk need them: card-secrets exports stream and purge them, key rotation re-seals and re-indexes
 * them. The cards module owns the table; this is the one place those statements live.
 */
@Injectable()
export class CardSecretsRepository {
  /** Key rotation's census, page and reseal of the cards' sealed columns (src/data-keys/sealed-columns.ts). */
  readonly sealedColumns: SealedColumnQueries;

  constructor(private readonly connection: TransactionalConnection) {
    this.sealedColumns = new SealedColumnQueries(connection, ['cards']);
  }

  /**
   * Streams the order's cards (serial, secret_ciphertext, face_value, expires_at) in serial order as COPY text
   * (tab-separated, `\N` for NULL) to `consume`, in a read-only transaction of a connection of its own, with UTC
   * and ISO dates so the timestamps printed do not depend on server settings. The index (order_id, serial)
   * delivers the order without a sort. A connection left inside a failed COPY is dropped, not reused.
   */
  async streamOrderSecrets<T>(orderId: string, consume: (copy: Readable) => Promise<T>): Promise<T> {
    const sql = orderSecretsCopySql(orderId);
    const driver = this.connection.rawDataSource.driver as PostgresDriver;
    const [client, release] = (await driver.obtainMasterConnection()) as [PoolClient, (err?: unknown) => void];
    let broken: unknown;
    try {
      await client.query('BEGIN READ ONLY');
      await client.query("SET LOCAL TimeZone = 'UTC'");
      await client.query("SET LOCAL DateStyle = 'ISO, YMD'");
      const result = await consume(client.query(copyTo(sql)));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken = error;
      throw error;
    } finally {
      release(broken);
    }
  }

  /**
   * Clears the ciphertext of the order's cards of `batchIds` among the next `limit` cards after serial `after`
   * (one short statement along the (order_id, serial) index). `last`: the last serial looked at, null when there
   * was none (the end); `purged`: how many it cleared (those already NULL are skipped).
   */
  async purgeSecretsAfter(
    ctx: RequestContext,
    orderId: string,
    batchIds: string[],
    after: string,
    limit: number,
  ): Promise<{ last: string | null; purged: number }> {
    const [step] = await this.connection.query<Array<{ last: string | null; purged: number }>>(
      ctx,
      `WITH chunk AS (
         SELECT serial FROM cards WHERE order_id = $1 AND serial > $2::bigint ORDER BY serial LIMIT $4
       ), cleared AS (
         UPDATE cards SET secret_ciphertext = NULL
          WHERE serial IN (SELECT serial FROM chunk) AND batch_id = ANY($3::text[]) AND secret_ciphertext IS NOT NULL
         RETURNING 1
       )
       SELECT (SELECT max(serial) FROM chunk)::text AS last, (SELECT count(*) FROM cleared)::int AS purged`,
      [orderId, after, batchIds, limit],
    );
    return step;
  }
}

/**
 * COPY takes no bind parameters, so the order id is checked against the id format first (a prefix, `_` and 26
 * Crockford characters) and cannot break the literal.
 */
export function orderSecretsCopySql(orderId: string): string {
  if (!isId('order', orderId)) throw new Error('orderSecretsCopySql: not an order id');
  return (
    'COPY (SELECT serial, secret_ciphertext, face_value, expires_at FROM cards ' +
    `WHERE order_id = '${orderId}' ORDER BY serial) TO STDOUT`
  );
}
