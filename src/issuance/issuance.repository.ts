import { Injectable } from '@nestjs/common';
import { In } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';
import type { ListQueryDto, Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import { IssuanceBatch, type BatchStatus } from './issuance.entity';

/** What `GET /v1/batches` filters by; `enterpriseId` null: every enterprise's (the operator). */
export interface BatchFilter {
  enterpriseId: string | null;
  orderId?: string;
  status?: BatchStatus;
  createdGte?: string;
  createdLt?: string;
}

/** The tables `issuance_batches` and `issuance_chunks` (docs/architecture.md). */
@Injectable()
export class IssuanceRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** The batch and its chunks of `batch.chunkSize` cards (the last one the rest). */
  async insertBatch(ctx: RequestContext, batch: IssuanceBatch): Promise<void> {
    const manager = this.connection.transactionManager(ctx, 'IssuanceRepository.insertBatch');
    await manager.insert(IssuanceBatch, batch);
    await manager.query(
      `INSERT INTO issuance_chunks (batch_id, chunk_no, count)
       SELECT $1, n, LEAST($2::int, $3::int - n * $2::int) FROM generate_series(0, $4::int - 1) AS n`,
      [batch.id, batch.chunkSize, batch.count, Math.ceil(batch.count / batch.chunkSize)],
    );
  }

  /** The chunks of the batches not minted yet, in order. */
  async unmintedChunks(
    ctx: RequestContext,
    batchIds: readonly string[],
  ): Promise<Array<{ batchId: string; chunkNo: number }>> {
    const rows = await this.connection.query<Array<{ batch_id: string; chunk_no: number }>>(
      ctx,
      'SELECT batch_id, chunk_no FROM issuance_chunks WHERE batch_id = ANY($1) AND done_at IS NULL ORDER BY batch_id, chunk_no',
      [batchIds],
    );
    return rows.map((row) => ({ batchId: row.batch_id, chunkNo: row.chunk_no }));
  }

  async unfinishedBatchIds(ctx: RequestContext): Promise<string[]> {
    const rows = await this.connection.query<Array<{ id: string }>>(
      ctx,
      "SELECT id FROM issuance_batches WHERE status IN ('queued', 'running')",
    );
    return rows.map((row) => row.id);
  }

  /** `lock`: FOR UPDATE until the caller's transaction ends. */
  async findBatch(ctx: RequestContext, id: string, options: { lock?: boolean } = {}): Promise<IssuanceBatch | null> {
    return this.connection.manager(ctx).findOne(IssuanceBatch, {
      where: { id },
      ...(options.lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  /** The batches of the orders, by order then line. */
  async batchesOf(ctx: RequestContext, orderIds: readonly string[]): Promise<IssuanceBatch[]> {
    if (orderIds.length === 0) return [];
    return this.connection
      .manager(ctx)
      .find(IssuanceBatch, { where: { orderId: In([...orderIds]) }, order: { orderId: 'ASC', lineNo: 'ASC' } });
  }

  /** True when this call started the batch (chunks starting at once race for it: one wins). */
  async markRunning(ctx: RequestContext, batchId: string): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(
      ctx,
      "WITH r AS (UPDATE issuance_batches SET status = 'running', started_at = now(), updated_at = now() WHERE id = $1 AND status = 'queued' RETURNING id) SELECT id FROM r",
      [batchId],
    );
    return rows.length > 0;
  }

  /** An operator's retry: a failed batch runs again, its reason cleared. */
  async resume(ctx: RequestContext, batchId: string): Promise<void> {
    await this.connection.query(
      ctx,
      "UPDATE issuance_batches SET status = 'running', failure_reason = NULL, updated_at = now() WHERE id = $1",
      [batchId],
    );
  }

  /** The chunk, locked FOR UPDATE; null when it does not exist. */
  async lockChunk(
    ctx: RequestContext,
    batchId: string,
    chunkNo: number,
  ): Promise<{ count: number; doneAt: Date | null } | null> {
    const [chunk] = await this.connection.query<Array<{ count: number; done_at: Date | null }>>(
      ctx,
      'SELECT count, done_at FROM issuance_chunks WHERE batch_id = $1 AND chunk_no = $2 FOR UPDATE',
      [batchId, chunkNo],
    );
    return chunk ? { count: chunk.count, doneAt: chunk.done_at } : null;
  }

  async markChunkDone(ctx: RequestContext, batchId: string, chunkNo: number): Promise<void> {
    await this.connection.query(
      ctx,
      'UPDATE issuance_chunks SET done_at = now() WHERE batch_id = $1 AND chunk_no = $2',
      [batchId, chunkNo],
    );
  }

  /** Adds minted cards to the batch (locking its row to the commit); its counts after. */
  async addIssued(
    ctx: RequestContext,
    batchId: string,
    minted: number,
  ): Promise<{ issuedCount: number; count: number }> {
    const [updated] = await this.connection.query<Array<{ issued_count: number; count: number }>>(
      ctx,
      `WITH r AS (UPDATE issuance_batches SET issued_count = issued_count + $2, updated_at = now()
         WHERE id = $1 RETURNING issued_count, count) SELECT issued_count, count FROM r`,
      [batchId, minted],
    );
    return { issuedCount: updated.issued_count, count: updated.count };
  }

  async markCompleted(ctx: RequestContext, batchId: string): Promise<void> {
    await this.connection.query(
      ctx,
      "UPDATE issuance_batches SET status = 'completed', completed_at = now(), updated_at = now() WHERE id = $1",
      [batchId],
    );
  }

  /** Queued batches of the order are cancelled (none of their chunks has started). */
  async cancelQueued(ctx: RequestContext, orderId: string): Promise<void> {
    await this.connection.query(
      ctx,
      "UPDATE issuance_batches SET status = 'cancelled', updated_at = now() WHERE order_id = $1 AND status = 'queued'",
      [orderId],
    );
  }

  /** True when this call failed the batch (false: it had already ended). */
  async markFailed(ctx: RequestContext, batchId: string, reason: string): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(
      ctx,
      "WITH r AS (UPDATE issuance_batches SET status = 'failed', failure_reason = $2, updated_at = now() WHERE id = $1 AND status IN ('queued', 'running') RETURNING id) SELECT id FROM r",
      [batchId, reason],
    );
    return rows.length > 0;
  }

  /** The order's batches not completed, and the cards of all its batches. */
  async orderProgress(ctx: RequestContext, orderId: string): Promise<{ open: number; cards: number }> {
    const [row] = await this.connection.query<Array<{ open: string; cards: string | null }>>(
      ctx,
      "SELECT count(*) FILTER (WHERE status <> 'completed') AS open, sum(count) AS cards FROM issuance_batches WHERE order_id = $1",
      [orderId],
    );
    return { open: Number(row.open), cards: Number(row.cards ?? 0) };
  }

  // issuance_batches as the card and batch reads of the API show them.

  /** The batch, if it is the enterprise's (any enterprise's when `enterpriseId` is null: the operator). */
  async batch(ctx: RequestContext, id: string, enterpriseId: string | null): Promise<IssuanceBatch | null> {
    return this.connection
      .manager(ctx)
      .findOneBy(IssuanceBatch, { id, ...(enterpriseId === null ? {} : { enterpriseId }) });
  }

  /** One page of batches, newest first (`issuance_batches_enterprise_id`; by order: its `order_id` index). */
  async listBatches(ctx: RequestContext, filter: BatchFilter, page: ListQueryDto): Promise<Page<IssuanceBatch>> {
    const builder = this.connection.manager(ctx).createQueryBuilder(IssuanceBatch, 'batch');
    if (filter.enterpriseId !== null)
      builder.andWhere('batch.enterpriseId = :enterpriseId', { enterpriseId: filter.enterpriseId });
    if (filter.orderId) builder.andWhere('batch.orderId = :orderId', { orderId: filter.orderId });
    if (filter.status) builder.andWhere('batch.status = :status', { status: filter.status });
    if (filter.createdGte) builder.andWhere('batch.createdAt >= :gte', { gte: filter.createdGte });
    if (filter.createdLt) builder.andWhere('batch.createdAt < :lt', { lt: filter.createdLt });
    return paginate(builder, page, (batch) => batch);
  }

  // What other modules read of an order's issuance batches (card exports: how many cards, which are anonymous).

  /** Cards issued for the order so far, over all its batches. */
  async issuedCards(ctx: RequestContext, orderId: string): Promise<number> {
    const [{ cards }] = await this.connection.query<Array<{ cards: string }>>(
      ctx,
      'SELECT COALESCE(SUM(issued_count), 0)::text AS cards FROM issuance_batches WHERE order_id = $1',
      [orderId],
    );
    return Number(cards);
  }

  /** Ids of the order's batches of anonymous cards. */
  async anonymousBatchIds(ctx: RequestContext, orderId: string): Promise<string[]> {
    const rows = await this.connection.query<Array<{ id: string }>>(
      ctx,
      "SELECT id FROM issuance_batches WHERE order_id = $1 AND card_type = 'anonymous'",
      [orderId],
    );
    return rows.map((row) => row.id);
  }
}
