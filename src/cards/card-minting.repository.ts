import { Injectable } from '@nestjs/common';
import { once } from 'node:events';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';

/** The columns a minted card is COPYed with. */
const COPY_COLUMNS =
  'serial, order_id, batch_id, face_value, balance, status, expires_at, code_key_id, code_hash, secret_ciphertext, pin_hash';

/** What every card of one chunk shares. */
export interface MintedChunk {
  orderId: string;
  batchId: string;
  faceValue: number;
  expiresAt: Date | null;
  codeKeyId: string;
}

/** One new card: its serial, the blind index of its code, its sealed code and PIN, the digest of its PIN. */
export interface MintedCard {
  serial: string;
  codeHash: Buffer;
  secretCiphertext: string;
  pinHash: Buffer;
}

/**
 * Minting's writes to the `cards` table (owned by the cards module, docs/architecture.md): new cards COPYed in,
 * inside a savepoint so that a failed COPY (a code collision) leaves the caller's transaction usable.
 */
@Injectable()
export class CardMintingRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /**
   * COPYs the cards `slices` yields (generated lazily: Postgres starts while Node still seals, memory stays flat).
   * On any failure the savepoint is rolled back and the error rethrown (a unique violation: a code collided).
   */
  async copyCards(ctx: RequestContext, chunk: MintedChunk, slices: Iterable<MintedCard[]>): Promise<void> {
    const manager = this.connection.transactionManager(ctx, 'CardMintingRepository.copyCards');
    const client = (await manager.queryRunner!.connect()) as PoolClient;
    await client.query('SAVEPOINT mint_chunk');
    try {
      await this.copyOnce(client, chunk, slices);
      await client.query('RELEASE SAVEPOINT mint_chunk');
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT mint_chunk');
      throw error;
    }
  }

  private async copyOnce(client: PoolClient, chunk: MintedChunk, slices: Iterable<MintedCard[]>): Promise<void> {
    const expires = chunk.expiresAt ? chunk.expiresAt.toISOString() : '\\N';
    // The pepper id goes with the fixed columns: nothing more per card.
    const fixed = `\t${chunk.orderId}\t${chunk.batchId}\t${chunk.faceValue}\t${chunk.faceValue}\tissued\t${expires}\t${chunk.codeKeyId}\t`;
    const stream = client.query(copyFrom(`COPY cards (${COPY_COLUMNS}) FROM STDIN`));
    // What Postgres reports (the COPY refused, the connection lost): it may come while slices are still being
    // written, so it is kept here and checked between slices, never left as an unhandled rejection.
    let failed: { error: Error } | undefined;
    const done = new Promise<void>((resolve, reject) => {
      stream.on('error', (error: Error) => {
        failed = { error };
        reject(error);
      });
      stream.on('finish', resolve);
    });
    done.catch(() => undefined);
    try {
      for (const cards of slices) {
        if (failed) break;
        let slice = '';
        // bytea in COPY text format: \\x<hex> (the backslash itself escaped).
        for (const card of cards) {
          slice += `${card.serial}${fixed}\\\\x${card.codeHash.toString('hex')}\t${card.secretCiphertext}\t\\\\x${card.pinHash.toString('hex')}\n`;
        }
        // A failed COPY never drains: wait for whichever comes first.
        if (!stream.write(slice)) await Promise.race([once(stream, 'drain'), done]);
      }
      if (!failed) stream.end();
    } catch (error) {
      // Our own failure mid-COPY: abort it (CopyFail) so the connection stays usable for the rollback. A failure
      // Postgres reported has ended the COPY already (and may have taken the connection with it).
      if (!failed) {
        stream.destroy(error as Error);
        await done.catch(() => undefined);
      }
      throw error;
    }
    await done;
  }
}
