import { Injectable } from '@nestjs/common';
import { RequestContext } from '../common/context/request-context';
import { TransactionalConnection } from '../database/transactional-connection';

/** A complete stored file as readers see it. */
export interface StoredFileRow {
  id: string;
  key: string;
  sizeBytes: number;
  sha256: string;
  createdAt: Date;
  expiresAt: Date | null;
}

interface StoredFileSqlRow {
  id: string;
  key: string;
  size_bytes: string;
  sha256: string;
  created_at: Date;
  expires_at: Date | null;
}

const toRow = (row: StoredFileSqlRow): StoredFileRow => ({
  id: row.id,
  key: row.key,
  sizeBytes: Number(row.size_bytes),
  sha256: row.sha256,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
});

/** stored_files and stored_file_chunks (src/storage). */
@Injectable()
export class StorageRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** Starts a version of `key`, invisible to readers until `complete`. */
  async begin(ctx: RequestContext, id: string, key: string, expiresAt: Date | null): Promise<void> {
    await this.connection.query(
      ctx,
      `INSERT INTO stored_files (id, key, status, created_at, expires_at) VALUES ($1, $2, 'writing', now(), $3)`,
      [id, key, expiresAt],
    );
  }

  async appendChunk(ctx: RequestContext, fileId: string, seq: number, data: Buffer): Promise<void> {
    // A Buffer parameter travels in binary: no hex encoding of the chunk on either side.
    await this.connection.query(ctx, 'INSERT INTO stored_file_chunks (file_id, seq, data) VALUES ($1, $2, $3)', [
      fileId,
      seq,
      data,
    ]);
  }

  /**
   * Makes version `id` the file of its key, deleting the version it replaces (with its chunks). Run in a
   * transaction: readers see the old version or the new one, never neither. False when `id` is gone (purged as
   * stale while it was written).
   */
  async complete(ctx: RequestContext, id: string, key: string, sizeBytes: number, sha256: string): Promise<boolean> {
    const manager = this.connection.transactionManager(ctx, 'StorageRepository.complete');
    await manager.query(`DELETE FROM stored_files WHERE key = $1 AND status = 'complete' AND id <> $2`, [key, id]);
    // For UPDATE, TypeORM answers [rows, affected].
    const [, affected] = await manager.query<[unknown[], number]>(
      `UPDATE stored_files SET status = 'complete', size_bytes = $2, sha256 = $3, completed_at = now()
        WHERE id = $1 AND status = 'writing'`,
      [id, sizeBytes, sha256],
    );
    return affected > 0;
  }

  /** The complete, unexpired file of `key`. */
  async find(ctx: RequestContext, key: string): Promise<StoredFileRow | null> {
    const [row] = await this.connection.query<StoredFileSqlRow[]>(
      ctx,
      `SELECT id, key, size_bytes, sha256, created_at, expires_at FROM stored_files
        WHERE key = $1 AND status = 'complete' AND (expires_at IS NULL OR expires_at > now())`,
      [key],
    );
    return row ? toRow(row) : null;
  }

  /**
   * Up to `limit` chunks of version `fileId` from `fromSeq` on, in order. On the pool, never in a transaction: a
   * download may last minutes.
   */
  async chunks(fileId: string, fromSeq: number, limit: number): Promise<Array<{ seq: number; data: Buffer }>> {
    return this.connection.query(
      RequestContext.system(),
      'SELECT seq, data FROM stored_file_chunks WHERE file_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3',
      [fileId, fromSeq, limit],
    );
  }

  /** Deletes every version of `key` (chunks cascade); whether a complete one existed. */
  async removeKey(ctx: RequestContext, key: string): Promise<boolean> {
    const rows = await this.connection.query<Array<{ status: string }>>(
      ctx,
      'DELETE FROM stored_files WHERE key = $1 RETURNING status',
      [key],
    );
    return rowsOf(rows).some((row) => row.status === 'complete');
  }

  /** Deletes one version (a write that failed). */
  async removeVersion(ctx: RequestContext, id: string): Promise<void> {
    await this.connection.query(ctx, 'DELETE FROM stored_files WHERE id = $1', [id]);
  }

  /**
   * Deletes up to `limit` files past their expiry and versions still `writing` since before `abandonedBefore` (their
   * writer died); how many.
   */
  async purge(ctx: RequestContext, abandonedBefore: Date, limit: number): Promise<number> {
    const rows = await this.connection.query<Array<{ id: string }>>(
      ctx,
      `DELETE FROM stored_files WHERE id IN (
         SELECT id FROM stored_files
          WHERE (status = 'complete' AND expires_at <= now()) OR (status = 'writing' AND created_at < $1)
          LIMIT $2)
       RETURNING id`,
      [abandonedBefore, limit],
    );
    return rowsOf(rows).length;
  }
}

/** TypeORM answers a DELETE … RETURNING with [rows, affected]. */
function rowsOf<T>(result: T[] | [T[], number]): T[] {
  return Array.isArray(result[0]) ? (result as [T[], number])[0] : (result as T[]);
}
