import { Injectable } from '@nestjs/common';
import { In, type QueryDeepPartialEntity } from 'typeorm';
import type { PoolClient } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import type { RequestContext } from '../common/context/request-context';
import type { ListQueryDto, Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import { CardExport, type ExportStatus } from '../issuance/card-export.entity';

/** Namespace of the two-key advisory lock held while an export is built (other namespaces: idempotency 7301). */
const BUILD_LOCK_NAMESPACE = 7_302;

/** What a sweep finds: a file nobody will download any more. */
export interface StaleExportFile {
  id: string;
  storagePath: string;
}

/** The export whose file a sweep cleared. */
export interface ClearedExportFile {
  enterpriseId: string;
  orderId: string;
  downloaded: boolean;
}

export type ExportChanges = QueryDeepPartialEntity<CardExport>;

/** card_exports, and the build lock of an export. */
@Injectable()
export class ExportsRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** The export by id (of `enterpriseId` when given); `lock`: its row locked until the transaction ends. */
  async find(
    ctx: RequestContext,
    where: { id: string; enterpriseId?: string },
    { lock = false } = {},
  ): Promise<CardExport | null> {
    if (!lock) return this.connection.manager(ctx).findOneBy(CardExport, where);
    return this.connection
      .transactionManager(ctx, 'ExportsRepository.find with a lock')
      .findOne(CardExport, { where, lock: { mode: 'pessimistic_write' } });
  }

  /** One page of the enterprise's exports, newest first (`card_exports_enterprise_id`). */
  async list(
    ctx: RequestContext,
    filter: { enterpriseId: string; orderId?: string; createdGte?: string; createdLt?: string },
    page: ListQueryDto,
  ): Promise<Page<CardExport>> {
    const builder = this.connection
      .manager(ctx)
      .createQueryBuilder(CardExport, 'export')
      .where('export.enterpriseId = :enterpriseId', { enterpriseId: filter.enterpriseId });
    if (filter.orderId) builder.andWhere('export.orderId = :orderId', { orderId: filter.orderId });
    if (filter.createdGte) builder.andWhere('export.createdAt >= :gte', { gte: filter.createdGte });
    if (filter.createdLt) builder.andWhere('export.createdAt < :lt', { lt: filter.createdLt });
    return paginate(builder, page, (record) => record);
  }

  async insert(ctx: RequestContext, record: CardExport): Promise<void> {
    // The jsonb column's open Record type defeats TypeORM's deep-partial typing; the value is plain JSON.
    await this.connection.manager(ctx).insert(CardExport, record as QueryDeepPartialEntity<CardExport>);
  }

  /** Applies `changes` if the export is (still) in status `onlyIf` when given; whether it did. */
  async update(ctx: RequestContext, id: string, changes: ExportChanges, onlyIf?: ExportStatus[]): Promise<boolean> {
    const where = onlyIf ? { id, status: In(onlyIf) } : { id };
    const result = await this.connection.manager(ctx).update(CardExport, where, changes);
    return (result.affected ?? 0) > 0;
  }

  /** Whether an export of the order purges (or purged) its anonymous cards' codes. */
  async purgingExportExists(ctx: RequestContext, orderId: string): Promise<boolean> {
    return this.connection.manager(ctx).existsBy(CardExport, {
      orderId,
      purgeAfterExport: true,
      status: In(['pending', 'running', 'ready']),
    });
  }

  /**
   * Whether the order has an export that has not failed (awaiting its purge confirmation, being built, or built): its
   * codes left, or are about to leave, in a file the enterprise holds. Distributions refuse such an order.
   */
  async exportExists(ctx: RequestContext, orderId: string): Promise<boolean> {
    return this.connection.manager(ctx).existsBy(CardExport, {
      orderId,
      status: In(['awaiting_purge_confirmation', 'pending', 'running', 'ready']),
    });
  }

  /** The id of an export of the order that is being built, if any. */
  async exportInProgress(ctx: RequestContext, orderId: string): Promise<string | null> {
    const building = await this.connection.manager(ctx).findOne(CardExport, {
      where: { orderId, status: In(['pending', 'running']) },
      select: { id: true },
    });
    return building?.id ?? null;
  }

  /** Stores a fresh link (only the token's hash) while the export is ready, not downloaded and has its file. */
  async issueLink(ctx: RequestContext, id: string, tokenHash: string, expiresAt: Date): Promise<boolean> {
    const result = await this.connection
      .manager(ctx)
      .createQueryBuilder()
      .update(CardExport)
      .set({ downloadTokenHash: tokenHash, downloadExpiresAt: expiresAt })
      .where('id = :id AND status = :status AND downloaded_at IS NULL AND storage_path IS NOT NULL', {
        id,
        status: 'ready',
      })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /**
   * Ends the download claimed at `claimedAt`: `complete` forgets the file, otherwise the claim is released.
   * False when the claim is not (any more) that one.
   */
  async finishDownload(ctx: RequestContext, id: string, claimedAt: Date, complete: boolean): Promise<boolean> {
    const result = await this.connection
      .manager(ctx)
      .createQueryBuilder()
      .update(CardExport)
      .set(complete ? { storagePath: null } : { downloadedAt: null })
      .where('id = :id AND downloaded_at = :claimedAt', { id, claimedAt })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /** Ready exports whose file was built before `builtBefore` or claimed before `claimedBefore`, oldest first. */
  async staleFiles(
    ctx: RequestContext,
    builtBefore: Date,
    claimedBefore: Date,
    limit: number,
  ): Promise<StaleExportFile[]> {
    const rows = await this.connection.query<Array<{ id: string; storage_path: string }>>(
      ctx,
      `SELECT id, storage_path FROM card_exports
        WHERE status = 'ready' AND storage_path IS NOT NULL
          AND (completed_at < $1 OR downloaded_at < $2)
        ORDER BY completed_at LIMIT $3`,
      [builtBefore, claimedBefore, limit],
    );
    return rows.map((row) => ({ id: row.id, storagePath: row.storage_path }));
  }

  /** Forgets the export's file if it is still `storagePath`; null when it is not. */
  async clearFile(ctx: RequestContext, id: string, storagePath: string): Promise<ClearedExportFile | null> {
    // For UPDATE, TypeORM answers [rows, affected].
    const [[record]] = await this.connection.query<
      [Array<{ enterprise_id: string; order_id: string; downloaded: boolean }>, number]
    >(
      ctx,
      `UPDATE card_exports SET storage_path = NULL WHERE id = $1 AND storage_path = $2
       RETURNING enterprise_id, order_id, downloaded_at IS NOT NULL AS downloaded`,
      [id, storagePath],
    );
    return record
      ? { enterpriseId: record.enterprise_id, orderId: record.order_id, downloaded: record.downloaded }
      : null;
  }

  /**
   * Runs `work` holding the export's build lock, a session advisory lock on a connection of its own, so that a
   * stalled job's duplicate waits instead of writing the same file. `{ locked: false }` when another process
   * holds it. When `work` fails the connection is dropped, which drops its session lock too.
   */
  async withBuildLock<T>(
    exportId: string,
    work: () => Promise<T>,
  ): Promise<{ locked: true; result: T } | { locked: false }> {
    const driver = this.connection.rawDataSource.driver as PostgresDriver;
    const [client, release] = (await driver.obtainMasterConnection()) as [PoolClient, (err?: unknown) => void];
    let broken: unknown;
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
        [BUILD_LOCK_NAMESPACE, exportId],
      );
      if (!rows[0].locked) return { locked: false };
      try {
        const result = await work();
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [BUILD_LOCK_NAMESPACE, exportId]);
        return { locked: true, result };
      } catch (error) {
        broken = error;
        throw error;
      }
    } finally {
      release(broken);
    }
  }
}
