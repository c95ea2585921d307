import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { CardsRepository, type MintedCard } from '../cards/cards.repository';
import { CatalogService } from '../catalog/catalog.service';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { LedgerAccount } from '../ledger/ledger.entity';
import { LedgerService } from '../ledger/ledger.service';
import { BatchDto } from '../orders/dto/batch.dto';
import type { Order } from '../orders/order.entity';
import { OrderLifecycleHooks } from '../orders/order-lifecycle-hooks';
import { OrdersService } from '../orders/orders.service';
import { OnJob, type JobContext } from '../queue/on-job.decorator';
import { JobName, type JobPayloads } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { EventsService } from '../events/events.service';
import { generateCodes, generatePins, serialFromSequence } from '../cards/card-code';
import { CardSecrets } from '../cards/card-secrets';
import type { IssuanceBatch } from './issuance.entity';
import { IssuanceMetrics } from './issuance-metrics';
import { IssuanceRepository } from './issuance.repository';

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
export class IssuanceService implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(IssuanceService.name);

  constructor(
    private readonly batches: IssuanceRepository,
    private readonly cards: CardsRepository,
    private readonly orders: OrdersService,
    private readonly orderHooks: OrderLifecycleHooks,
    private readonly catalog: CatalogService,
    private readonly transactions: TransactionService,
    private readonly config: AppConfig,
    private readonly secrets: CardSecrets,
    private readonly ledger: LedgerService,
    private readonly events: EventsService,
    private readonly queues: QueueService,
    private readonly audit: AuditService,
    private readonly metrics: IssuanceMetrics,
  ) {}

  /** Issuance follows orders (docs/architecture.md): orders never import it, it registers here. */
  onModuleInit(): void {
    this.orderHooks.onPaid((ctx, order) => this.planForOrder(ctx, order).then(() => undefined));
    this.orderHooks.onPaidOrderCancelled((ctx, order) => this.batches.cancelQueued(ctx, order.id));
    this.orderHooks.readIssuanceWith((ctx, orderIds) => this.progressOf(ctx, orderIds));
  }

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
  async planForOrder(ctx: RequestContext, order: Readonly<Order>): Promise<IssuanceBatch[]> {
    const lines = await this.orders.linesOf(ctx, order.id);
    const products = await this.catalog.productsByIds(
      ctx,
      lines.map((line) => line.productId),
    );
    const chunkSize = this.config.ISSUANCE_CHUNK_SIZE;
    const now = new Date();
    const batches: IssuanceBatch[] = [];
    for (const line of lines) {
      const product = products.get(line.productId);
      if (!product) throw new Error(`order ${order.id} line ${line.lineNo}: product ${line.productId} is gone`);
      const serialStart = Number(await this.cards.reserve(ctx, line.quantity));
      const batch: IssuanceBatch = {
        id: newId('batch'),
        orderId: order.id,
        enterpriseId: order.enterpriseId,
        lineNo: line.lineNo,
        productId: product.id,
        cardType: product.cardType,
        faceValue: line.faceValue,
        count: line.quantity,
        chunkSize,
        serialStart,
        issuedCount: 0,
        status: 'queued',
        failureReason: null,
        expiresAt: product.validityMonths === null ? null : addMonths(now, product.validityMonths),
        startedAt: null,
        completedAt: null,
        createdAt: now,
        updatedAt: now,
      };
      await this.batches.insertBatch(ctx, batch);
      batches.push(batch);
    }
    await this.transactions.afterCommit(ctx, () => this.enqueue(batches));
    return batches;
  }

  /** The issuance progress of each order, for its OrderDto. */
  async progressOf(ctx: RequestContext, orderIds: readonly string[]): Promise<Map<string, BatchDto[]>> {
    const progress = new Map<string, BatchDto[]>();
    for (const batch of await this.batches.batchesOf(ctx, orderIds)) {
      const list = progress.get(batch.orderId) ?? [];
      list.push(BatchDto.from(batch));
      progress.set(batch.orderId, list);
    }
    return progress;
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
    const chunks = await this.batches.unmintedChunks(
      RequestContext.system(),
      batches.map((batch) => batch.id),
    );
    const delay = this.config.ISSUANCE_DELAY_SECONDS * 1000;
    for (const chunk of chunks) {
      const payload = { batchId: chunk.batchId, chunkNo: chunk.chunkNo };
      const options = {
        jobId: `mint-${chunk.batchId}-${chunk.chunkNo}${retrySuffix}`,
        ...(delay > 0 && !retrySuffix ? { delay } : {}),
      };
      if (retryFailed) await this.queues.addOrRetryFailed(JobName.MintChunk, payload, options);
      else await this.queues.add(JobName.MintChunk, payload, options);
    }
  }

  /** Every minute: unminted chunks of batches still to do are enqueued again, failed jobs of them retried. */
  @OnJob(JobName.ResumeIssuance)
  async resume(): Promise<{ batches: number }> {
    const ids = await this.batches.unfinishedBatchIds(RequestContext.system());
    await this.enqueue(
      ids.map((id) => ({ id })),
      { retryFailed: true },
    );
    return { batches: ids.length };
  }

  /** Exactly once per chunk: the cards, the checkpoint and the ledger entry commit together or not at all. */
  @OnJob(JobName.MintChunk)
  async mintChunk({ batchId, chunkNo }: JobPayloads[JobName.MintChunk], job: JobContext): Promise<{ minted: number }> {
    try {
      if (!(await this.start(batchId))) return { minted: 0 };
      const ctx = RequestContext.system();
      return await this.transactions.run(ctx, () => this.mint(ctx, batchId, chunkNo));
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
    const ctx = RequestContext.system();
    return this.transactions.run(ctx, async () => {
      const batch = await this.batches.findBatch(ctx, batchId);
      if (!batch || batch.status === 'cancelled' || batch.status === 'failed' || batch.status === 'completed')
        return false;
      if (!(await this.orders.startIssuing(ctx, batch.orderId))) return false;
      if (batch.status === 'queued' && (await this.batches.markRunning(ctx, batchId))) {
        await this.transactions.afterCommit(ctx, () => this.metrics.batchStarted(batch));
      }
      return true;
    });
  }

  private async mint(ctx: RequestContext, batchId: string, chunkNo: number): Promise<{ minted: number }> {
    const chunk = await this.batches.lockChunk(ctx, batchId, chunkNo);
    if (!chunk || chunk.doneAt) return { minted: 0 };
    const batch = await this.batches.findBatch(ctx, batchId);
    if (!batch || batch.status !== 'running') return { minted: 0 };
    await this.copyCards(ctx, batch, batch.serialStart + chunkNo * batch.chunkSize, chunk.count);
    await this.batches.markChunkDone(ctx, batchId, chunkNo);
    const value = chunk.count * batch.faceValue;
    await this.ledger.post(ctx, {
      kind: 'cards_issued',
      memo: `Batch ${batchId} chunk ${chunkNo}: ${chunk.count} cards`,
      // The enterprise is named so that its statement reads the float its cards hold from the ledger.
      enterpriseId: batch.enterpriseId,
      orderId: batch.orderId,
      lines: [
        { account: LedgerAccount.UnissuedOrders, amount: value },
        { account: LedgerAccount.CardFloat, amount: -value },
      ],
    });
    // Last: the batch row lock is held only from here to the commit, so concurrent chunks overlap their COPYs.
    const updated = await this.batches.addIssued(ctx, batchId, chunk.count);
    await this.transactions.afterCommit(ctx, () => this.metrics.chunkMinted(chunk.count));
    if (updated.issuedCount === updated.count) await this.completeBatch(ctx, batch);
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
    const batch = await this.transactions.run(ctx, async () => {
      const found = await this.batches.findBatch(ctx, batchId, { lock: true });
      if (!found) throw ApiError.notFound('batch', batchId);
      if (found.status !== 'failed') {
        throw ApiError.conflict('invalid_state', `Batch ${batchId} is ${found.status}; only a failed batch is retried`);
      }
      await this.batches.resume(ctx, batchId);
      return { ...found, status: 'running' as const, failureReason: null };
    });
    await this.enqueue([batch], { retrySuffix: `-r${Date.now()}` });
    return batch;
  }

  /** After the last retry of a chunk failed: the batch stops with the reason, for the operator to retry. */
  async failBatch(batchId: string, reason: string): Promise<void> {
    const failed = await this.batches.markFailed(RequestContext.system(), batchId, reason.slice(0, 500));
    if (failed) this.metrics.batchFailed(batchId, reason.slice(0, 500));
  }

  private async completeBatch(ctx: RequestContext, batch: IssuanceBatch): Promise<void> {
    await this.batches.markCompleted(ctx, batch.id);
    await this.transactions.afterCommit(ctx, () => this.metrics.batchCompleted(batch, batch.startedAt));
    await this.events.record(ctx, {
      enterpriseId: batch.enterpriseId,
      type: 'batch.completed',
      data: { batch_id: batch.id, order_id: batch.orderId, line_no: batch.lineNo, count: batch.count },
    });
    let cards = 0;
    // The order is locked before its batches are counted: batches of one order finishing at once then see each
    // other's completion.
    const issued = await this.orders.finishIssuing(ctx, batch.orderId, async () => {
      const progress = await this.batches.orderProgress(ctx, batch.orderId);
      cards = progress.cards;
      return progress.open === 0;
    });
    if (!issued) return;
    await this.events.record(ctx, {
      enterpriseId: batch.enterpriseId,
      type: 'order.issued',
      data: { order_id: batch.orderId, cards },
    });
  }

  /**
   * Generates, seals and COPYs `count` cards. A code that collides with an
   * existing one (75 random bits: practically never) aborts the COPY; the chunk
   * is then generated afresh inside a savepoint, so the transaction survives.
   */
  private async copyCards(ctx: RequestContext, batch: IssuanceBatch, firstSequence: number, count: number) {
    const chunk = {
      orderId: batch.orderId,
      batchId: batch.id,
      enterpriseId: batch.enterpriseId,
      cardType: batch.cardType,
      productId: batch.productId,
      faceValue: batch.faceValue,
      expiresAt: batch.expiresAt,
      codeKeyId: this.secrets.blindIndexKeyId,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.cards.copyCards(ctx, chunk, this.newCards(firstSequence, count));
        return;
      } catch (error) {
        const collided = (error as { code?: string }).code === UNIQUE_VIOLATION;
        if (!collided || attempt >= MAX_COLLISION_RETRIES) throw error;
        this.logger.warn({ msg: 'card code collision: regenerating the chunk', batchId: batch.id, attempt });
      }
    }
  }

  /** Fresh codes and PINs, sealed, in slices: generated as the COPY consumes them. */
  private *newCards(firstSequence: number, count: number): Generator<MintedCard[]> {
    const codes = generateCodes(count);
    const pins = generatePins(count);
    for (let start = 0; start < count; start += COPY_SLICE) {
      const slice: MintedCard[] = [];
      for (let i = start; i < Math.min(count, start + COPY_SLICE); i++) {
        const serial = serialFromSequence(firstSequence + i);
        slice.push({
          serial,
          codeHash: this.secrets.blindIndex(codes[i]),
          secretCiphertext: this.secrets.seal(serial, codes[i], pins[i]),
          pinHash: this.secrets.pinDigest(serial, pins[i]),
        });
      }
      yield slice;
    }
  }
}
