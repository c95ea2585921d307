import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { once } from 'node:events';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DataSource, EntityManager, In } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { Product } from '../catalog/product.entity';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { LedgerAccount } from '../ledger/ledger.entity';
import { LedgerService } from '../ledger/ledger.service';
import { OrderLine, type Order } from '../orders/order.entity';
import { assertTransition, type OrderStatus } from '../orders/order-state';
import { OnJob, type JobContext } from '../queue/on-job.decorator';
import { JobName, type JobPayloads } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { EventsService } from '../events/events.service';
import { generateCodes, generatePins, serialFromSequence } from './card-code';
import { CardSecrets } from './card-secrets';
import { IssuanceBatch } from './issuance.entity';

const COPY_COLUMNS =
  'serial, order_id, batch_id, face_value, balance, status, expires_at, code_key_id, code_hash, secret_ciphertext, pin_hash';
const UNIQUE_VIOLATION = '23505';
const MAX_COLLISION_RETRIES = 3;
const COPY_SLICE = 1_000;
const RESUME_SCHEDULER = 'resume-issuance-every-minute';

function addMonths(date: Date, months: number): Date {
  const result = new Date(date);
  result.setUTCMonth(result.getUTCMonth() + months);
  return result;
}

/**
 * Mints the cards of paid orders. A batch per order line, split into chunks run
 * as jobs with deterministic ids; each chunk generates its codes, seals them,
 * COPYs them in and marks itself done in ONE transaction with its ledger entry,
 * so a chunk is minted exactly once however often its job runs or dies midway.
 * Serials are reserved for the whole batch up front: no gaps, no duplicates.
 */
@Injectable()
export class IssuanceService implements OnApplicationBootstrap {
  private readonly logger = new Logger(IssuanceService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionService,
    private readonly config: AppConfig,
    private readonly secrets: CardSecrets,
    private readonly ledger: LedgerService,
    private readonly events: EventsService,
    private readonly queues: QueueService,
    private readonly audit: AuditService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.queues.isWorker) return;
    // Chunks committed but never enqueued (a crash between commit and enqueue) are picked up here.
    await this.queues.upsertScheduler(RESUME_SCHEDULER, JobName.ResumeIssuance, {}, { everyMs: 60_000 });
    await this.queues.add(JobName.ResumeIssuance, {});
  }

  /**
   * In the payment's transaction: one batch per line, its chunks and its serial
   * range; the chunk jobs are enqueued once that transaction has committed.
   */
  async planForOrder(manager: EntityManager, ctx: RequestContext, order: Order): Promise<IssuanceBatch[]> {
    const lines = await manager.find(OrderLine, { where: { orderId: order.id }, order: { lineNo: 'ASC' } });
    const products = await manager.findBy(Product, { id: In(lines.map((line) => line.productId)) });
    const productById = new Map(products.map((product) => [product.id, product]));
    const chunkSize = this.config.ISSUANCE_CHUNK_SIZE;
    const now = new Date();
    const batches: IssuanceBatch[] = [];
    for (const line of lines) {
      const product = productById.get(line.productId);
      if (!product) throw new Error(`order ${order.id} line ${line.lineNo}: product ${line.productId} is gone`);
      const [{ first }] = await manager.query<Array<{ first: string }>>(
        // As a SELECT: TypeORM returns [rows, count] for a bare UPDATE … RETURNING.
        'WITH r AS (UPDATE card_serial_allocator SET next_value = next_value + $1 WHERE id = 1 RETURNING next_value - $1 AS first) SELECT first FROM r',
        [line.quantity],
      );
      const batch = manager.create(IssuanceBatch, {
        id: newId('batch'),
        orderId: order.id,
        enterpriseId: order.enterpriseId,
        lineNo: line.lineNo,
        productId: product.id,
        cardType: product.cardType,
        faceValue: line.faceValue,
        count: line.quantity,
        chunkSize,
        serialStart: Number(first),
        issuedCount: 0,
        status: 'queued',
        failureReason: null,
        expiresAt: product.validityMonths === null ? null : addMonths(now, product.validityMonths),
        startedAt: null,
        completedAt: null,
      });
      await manager.insert(IssuanceBatch, batch);
      const chunks = Math.ceil(line.quantity / chunkSize);
      await manager.query(
        `INSERT INTO issuance_chunks (batch_id, chunk_no, count)
         SELECT $1, n, LEAST($2::int, $3::int - n * $2::int) FROM generate_series(0, $4::int - 1) AS n`,
        [batch.id, chunkSize, line.quantity, chunks],
      );
      batches.push(batch);
    }
    await this.transactions.afterCommit(ctx, () => this.enqueue(batches));
    return batches;
  }

  /**
   * Enqueues every chunk of the batches that is not minted yet (deterministic job ids: safe to repeat).
   * `retrySuffix`: new job ids, for an operator's retry (the failed jobs keep theirs in the queue's history).
   * `retryFailed`: a chunk whose job already failed for good runs again: its batch is still queued or running
   * only because marking it failed failed too (the database was down at the chunk's last attempt).
   */
  async enqueue(
    batches: Pick<IssuanceBatch, 'id'>[],
    { retrySuffix = '', retryFailed = false }: { retrySuffix?: string; retryFailed?: boolean } = {},
  ): Promise<void> {
    if (batches.length === 0) return;
    const chunks = await this.dataSource.query<Array<{ batch_id: string; chunk_no: number }>>(
      'SELECT batch_id, chunk_no FROM issuance_chunks WHERE batch_id = ANY($1) AND done_at IS NULL ORDER BY batch_id, chunk_no',
      [batches.map((batch) => batch.id)],
    );
    const delay = this.config.ISSUANCE_DELAY_SECONDS * 1000;
    for (const chunk of chunks) {
      const payload = { batchId: chunk.batch_id, chunkNo: chunk.chunk_no };
      const options = {
        jobId: `mint-${chunk.batch_id}-${chunk.chunk_no}${retrySuffix}`,
        ...(delay > 0 && !retrySuffix ? { delay } : {}),
      };
      if (retryFailed) await this.queues.addOrRetryFailed(JobName.MintChunk, payload, options);
      else await this.queues.add(JobName.MintChunk, payload, options);
    }
  }

  /** Every minute: unminted chunks of batches still to do are enqueued again, failed jobs of them retried. */
  @OnJob(JobName.ResumeIssuance)
  async resume(): Promise<{ batches: number }> {
    const batches = await this.dataSource.query<Array<{ id: string }>>(
      "SELECT id FROM issuance_batches WHERE status IN ('queued', 'running')",
    );
    await this.enqueue(batches, { retryFailed: true });
    return { batches: batches.length };
  }

  /** Exactly once per chunk: the cards, the checkpoint and the ledger entry commit together or not at all. */
  @OnJob(JobName.MintChunk)
  async mintChunk({ batchId, chunkNo }: JobPayloads[JobName.MintChunk], job: JobContext): Promise<{ minted: number }> {
    try {
      if (!(await this.start(batchId))) return { minted: 0 };
      const ctx = RequestContext.system();
      return await this.transactions.run(ctx, (manager) => this.mint(ctx, manager, batchId, chunkNo));
    } catch (error) {
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        await this.failBatch(batchId, error instanceof Error ? error.message : String(error));
      }
      throw error;
    }
  }

  /**
   * A short transaction of its own, so that chunks running at once do not queue
   * behind each other's locks: the order turns issuing and the batch running,
   * unless the order was cancelled meanwhile (then nothing is minted).
   */
  private async start(batchId: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const batch = await manager.findOneBy(IssuanceBatch, { id: batchId });
      if (!batch || batch.status === 'cancelled' || batch.status === 'failed' || batch.status === 'completed')
        return false;
      const [order] = await manager.query<Array<{ status: OrderStatus }>>(
        'SELECT status FROM orders WHERE id = $1 FOR UPDATE',
        [batch.orderId],
      );
      if (order.status !== 'paid' && order.status !== 'issuing') return false;
      if (order.status === 'paid') {
        assertTransition(batch.orderId, order.status, 'issuing');
        await manager.query("UPDATE orders SET status = 'issuing', updated_at = now() WHERE id = $1", [batch.orderId]);
      }
      if (batch.status === 'queued') {
        await manager.query(
          "UPDATE issuance_batches SET status = 'running', started_at = now(), updated_at = now() WHERE id = $1 AND status = 'queued'",
          [batchId],
        );
      }
      return true;
    });
  }

  private async mint(
    ctx: RequestContext,
    manager: EntityManager,
    batchId: string,
    chunkNo: number,
  ): Promise<{ minted: number }> {
    const [chunk] = await manager.query<Array<{ count: number; done_at: Date | null }>>(
      'SELECT count, done_at FROM issuance_chunks WHERE batch_id = $1 AND chunk_no = $2 FOR UPDATE',
      [batchId, chunkNo],
    );
    if (!chunk || chunk.done_at) return { minted: 0 };
    const batch = await manager.findOneByOrFail(IssuanceBatch, { id: batchId });
    if (batch.status !== 'running') return { minted: 0 };
    await this.copyCards(manager, batch, batch.serialStart + chunkNo * batch.chunkSize, chunk.count);
    await manager.query('UPDATE issuance_chunks SET done_at = now() WHERE batch_id = $1 AND chunk_no = $2', [
      batchId,
      chunkNo,
    ]);
    const value = chunk.count * batch.faceValue;
    await this.ledger.post(ctx, {
      kind: 'cards_issued',
      memo: `Batch ${batchId} chunk ${chunkNo}: ${chunk.count} cards`,
      orderId: batch.orderId,
      lines: [
        { account: LedgerAccount.UnissuedOrders, amount: value },
        { account: LedgerAccount.CardFloat, amount: -value },
      ],
    });
    // Last: the batch row lock is held only from here to the commit, so concurrent chunks overlap their COPYs.
    const [updated] = await manager.query<Array<{ issued_count: number; count: number }>>(
      `WITH r AS (UPDATE issuance_batches SET issued_count = issued_count + $2, updated_at = now()
         WHERE id = $1 RETURNING issued_count, count) SELECT issued_count, count FROM r`,
      [batchId, chunk.count],
    );
    if (updated.issued_count === updated.count) await this.completeBatch(ctx, manager, batch);
    // One record per chunk, not per card (a batch may hold millions), and last: the chain's head is locked to the commit.
    const firstSerial = serialFromSequence(batch.serialStart + chunkNo * batch.chunkSize);
    await this.audit.append(ctx, {
      action: 'cards.minted',
      objectType: 'batch',
      objectId: batchId,
      enterpriseId: batch.enterpriseId,
      summary: {
        order_id: batch.orderId,
        chunk_no: chunkNo,
        cards: chunk.count,
        face_value: batch.faceValue,
        value: chunk.count * batch.faceValue,
        first_serial: firstSerial,
        last_serial: serialFromSequence(batch.serialStart + chunkNo * batch.chunkSize + chunk.count - 1),
      },
    });
    return { minted: chunk.count };
  }

  /** Operator: a failed batch goes back to work on the chunks it has not minted. */
  async retryBatch(ctx: RequestContext, batchId: string): Promise<IssuanceBatch> {
    if (!isId('batch', batchId)) throw ApiError.notFound('batch', batchId);
    const batch = await this.transactions.run(ctx, async (manager) => {
      const found = await manager.findOne(IssuanceBatch, {
        where: { id: batchId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!found) throw ApiError.notFound('batch', batchId);
      if (found.status !== 'failed') {
        throw ApiError.conflict('invalid_state', `Batch ${batchId} is ${found.status}; only a failed batch is retried`);
      }
      Object.assign(found, { status: 'running', failureReason: null });
      await manager.save(found);
      return found;
    });
    await this.enqueue([batch], { retrySuffix: `-r${Date.now()}` });
    return batch;
  }

  /** A paid order cancelled before minting started: its batches never run. */
  async cancelQueued(manager: EntityManager, orderId: string): Promise<void> {
    await manager.query(
      "UPDATE issuance_batches SET status = 'cancelled', updated_at = now() WHERE order_id = $1 AND status = 'queued'",
      [orderId],
    );
  }

  /** After the last retry of a chunk failed: the batch stops with the reason, for the operator to retry. */
  async failBatch(batchId: string, reason: string): Promise<void> {
    await this.dataSource.query(
      "UPDATE issuance_batches SET status = 'failed', failure_reason = $2, updated_at = now() WHERE id = $1 AND status IN ('queued', 'running')",
      [batchId, reason.slice(0, 500)],
    );
  }

  private async completeBatch(ctx: RequestContext, manager: EntityManager, batch: IssuanceBatch): Promise<void> {
    await manager.query(
      "UPDATE issuance_batches SET status = 'completed', completed_at = now(), updated_at = now() WHERE id = $1",
      [batch.id],
    );
    await this.events.record(ctx, {
      enterpriseId: batch.enterpriseId,
      type: 'batch.completed',
      data: { batch_id: batch.id, order_id: batch.orderId, line_no: batch.lineNo, count: batch.count },
    });
    // Lock the order first: batches of one order finishing at once then see each other's completion.
    const [order] = await manager.query<Array<{ status: OrderStatus }>>(
      'SELECT status FROM orders WHERE id = $1 FOR UPDATE',
      [batch.orderId],
    );
    const [{ open }] = await manager.query<Array<{ open: string }>>(
      "SELECT count(*) AS open FROM issuance_batches WHERE order_id = $1 AND status <> 'completed'",
      [batch.orderId],
    );
    if (Number(open) > 0) return;
    assertTransition(batch.orderId, order.status, 'issued');
    await manager.query("UPDATE orders SET status = 'issued', updated_at = now() WHERE id = $1", [batch.orderId]);
    const [totals] = await manager.query<Array<{ cards: string }>>(
      'SELECT sum(count) AS cards FROM issuance_batches WHERE order_id = $1',
      [batch.orderId],
    );
    await this.events.record(ctx, {
      enterpriseId: batch.enterpriseId,
      type: 'order.issued',
      data: { order_id: batch.orderId, cards: Number(totals.cards) },
    });
  }

  /**
   * Generates, seals and COPYs `count` cards. A code that collides with an
   * existing one (75 random bits: practically never) aborts the COPY; the chunk
   * is then generated afresh inside a savepoint, so the transaction survives.
   */
  private async copyCards(manager: EntityManager, batch: IssuanceBatch, firstSequence: number, count: number) {
    const client = (await manager.queryRunner!.connect()) as PoolClient;
    for (let attempt = 1; ; attempt++) {
      await client.query('SAVEPOINT mint_chunk');
      try {
        await this.copyOnce(client, batch, firstSequence, count);
        await client.query('RELEASE SAVEPOINT mint_chunk');
        return;
      } catch (error) {
        await client.query('ROLLBACK TO SAVEPOINT mint_chunk');
        const collided = (error as { code?: string }).code === UNIQUE_VIOLATION;
        if (!collided || attempt >= MAX_COLLISION_RETRIES) throw error;
        this.logger.warn({ msg: 'card code collision: regenerating the chunk', batchId: batch.id, attempt });
      }
    }
  }

  private async copyOnce(client: PoolClient, batch: IssuanceBatch, firstSequence: number, count: number) {
    const codes = generateCodes(count);
    const pins = generatePins(count);
    const expires = batch.expiresAt ? batch.expiresAt.toISOString() : '\\N';
    // The pepper id goes with the fixed columns: nothing more per card.
    const fixed = `\t${batch.orderId}\t${batch.id}\t${batch.faceValue}\t${batch.faceValue}\tissued\t${expires}\t${this.secrets.blindIndexKeyId}\t`;
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
    // Slices of rows go out as they are sealed: Postgres starts while Node still works, and memory stays flat.
    try {
      for (let start = 0; start < count && !failed; start += COPY_SLICE) {
        let slice = '';
        for (let i = start; i < Math.min(count, start + COPY_SLICE); i++) {
          const serial = serialFromSequence(firstSequence + i);
          const hash = this.secrets.blindIndex(codes[i]).toString('hex');
          // bytea in COPY text format: \\x<hex> (the backslash itself escaped).
          const pinHash = this.secrets.pinDigest(serial, pins[i]).toString('hex');
          slice += `${serial}${fixed}\\\\x${hash}\t${this.secrets.seal(serial, codes[i], pins[i])}\t\\\\x${pinHash}\n`;
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
