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
  /** The S3 object holding the content; null: the content is the version's stored_file_chunks. */
  objectKey: string | null;
}

/** A version taken out of readers' sight whose S3 object must still be deleted (then the row: `forget`). */
export interface RetiredObject {
  id: string;
  objectKey: string;
}

interface StoredFileSqlRow {
  id: string;
  key: string;
  size_bytes: string;
  sha256: string;
  created_at: Date;
  expires_at: Date | null;
  object_key: string | null;
}

const toRow = (row: StoredFileSqlRow): StoredFileRow => ({
  id: row.id,
  key: row.key,
  sizeBytes: Number(row.size_bytes),
  sha256: row.sha256,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  objectKey: row.object_key,
});

/**
 * Deletes the versions `doomed` selects (an `id` column; `$1…` its parameters): those in the database at once, their
 * chunks cascading; those in S3 are marked `deleting` (invisible, their key free) and answered, so that their objects
 * are deleted before their rows and a crash in between leaves a row the purge finishes, never an orphan object.
 */
const retiring = (doomed: string) => `
  WITH doomed AS (${doomed}),
  deleted AS (
    DELETE FROM stored_files f USING doomed d WHERE f.id = d.id AND f.object_key IS NULL RETURNING f.id),
  marked AS (
    UPDATE stored_files f SET status = 'deleting' FROM doomed d
     WHERE f.id = d.id AND f.object_key IS NOT NULL RETURNING f.id, f.object_key)
  SELECT id, NULL AS object_key FROM deleted UNION ALL SELECT id, object_key FROM marked`;

interface RetiredSqlRow {
  id: string;
  object_key: string | null;
}

/** How many versions went, and the objects still to delete. */
const retiredOf = (rows: RetiredSqlRow[]): { count: number; objects: RetiredObject[] } => ({
  count: rows.length,
  objects: rows.flatMap((row) => (row.object_key === null ? [] : [{ id: row.id, objectKey: row.object_key }])),
});

/** stored_files and stored_file_chunks (src/storage). */
@Injectable()
export class StorageRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** Starts a version of `key`, invisible to readers until `complete`; `objectKey` when its content goes to S3. */
  async begin(
    ctx: RequestContext,
    id: string,
    key: string,
    expiresAt: Date | null,
    objectKey: string | null,
  ): Promise<void> {
    await this.connection.query(
      ctx,
      `INSERT INTO stored_files (id, key, status, created_at, expires_at, object_key)
       VALUES ($1, $2, 'writing', now(), $3, $4)`,
      [id, key, expiresAt, objectKey],
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
   * Makes version `id` the file of its key, retiring the version it replaces (its S3 object answered, to delete after
   * commit). Run in a transaction: readers see the old version or the new one, never neither. `completed` false when
   * `id` is gone (purged as stale while it was written).
   */
  async complete(
    ctx: RequestContext,
    id: string,
    key: string,
    sizeBytes: number,
    sha256: string,
  ): Promise<{ completed: boolean; replaced: RetiredObject[] }> {
    const manager = this.connection.transactionManager(ctx, 'StorageRepository.complete');
    const replaced = await manager.query<RetiredSqlRow[]>(
      retiring(`SELECT id FROM stored_files WHERE key = $1 AND status = 'complete' AND id <> $2`),
      [key, id],
    );
    // For UPDATE, TypeORM answers [rows, affected].
    const [, affected] = await manager.query<[unknown[], number]>(
      `UPDATE stored_files SET status = 'complete', size_bytes = $2, sha256 = $3, completed_at = now()
        WHERE id = $1 AND status = 'writing'`,
      [id, sizeBytes, sha256],
    );
    return { completed: affected > 0, replaced: retiredOf(replaced).objects };
  }

  /** The complete, unexpired file of `key`. */
  async find(ctx: RequestContext, key: string): Promise<StoredFileRow | null> {
    const [row] = await this.connection.query<StoredFileSqlRow[]>(
      ctx,
      `SELECT id, key, size_bytes, sha256, created_at, expires_at, object_key FROM stored_files
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

  /** Retires every version of `key`; whether a complete one existed, and the objects still to delete. */
  async removeKey(ctx: RequestContext, key: string): Promise<{ existed: boolean; objects: RetiredObject[] }> {
    const [existed] = await this.connection.query<Array<{ exists: boolean }>>(
      ctx,
      `SELECT EXISTS (SELECT 1 FROM stored_files WHERE key = $1 AND status = 'complete') AS exists`,
      [key],
    );
    const rows = await this.connection.query<RetiredSqlRow[]>(
      ctx,
      retiring(`SELECT id FROM stored_files WHERE key = $1 AND status <> 'deleting'`),
      [key],
    );
    return { existed: existed.exists, objects: retiredOf(rows).objects };
  }

  /** Retires one version (a write that failed); its object, if it has one, still to delete. */
  async removeVersion(ctx: RequestContext, id: string): Promise<RetiredObject[]> {
    const rows = await this.connection.query<RetiredSqlRow[]>(
      ctx,
      retiring(`SELECT id FROM stored_files WHERE id = $1`),
      [id],
    );
    return retiredOf(rows).objects;
  }

  /** Deletes the rows of retired versions whose objects are gone. */
  async forget(ctx: RequestContext, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.connection.query(ctx, `DELETE FROM stored_files WHERE id = ANY($1) AND status = 'deleting'`, [ids]);
  }

  /**
   * Retires up to `limit` files past their expiry and versions still `writing` since before `abandonedBefore` (their
   * writer died), and answers again versions left `deleting` (a process stopped before deleting their objects): how
   * many, and the objects still to delete.
   */
  async purge(
    ctx: RequestContext,
    abandonedBefore: Date,
    limit: number,
  ): Promise<{ count: number; objects: RetiredObject[] }> {
    const rows = await this.connection.query<RetiredSqlRow[]>(
      ctx,
      retiring(
        `SELECT id FROM stored_files
          WHERE (status = 'complete' AND expires_at <= now()) OR (status = 'writing' AND created_at < $1)
             OR status = 'deleting'
          LIMIT $2`,
      ),
      [abandonedBefore, limit],
    );
    return retiredOf(rows);
  }
}
