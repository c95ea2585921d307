import { CardsRepository } from '../cards/cards.repository';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { newId } from '../common/ids';
import type { IssuanceBatch } from './issuance.entity';
import { IssuanceRepository } from './issuance.repository';

describe('IssuanceRepository (medium)', () => {
  let db: MediumDatabase;
  let batches: IssuanceRepository;
  let serials: CardsRepository;

  beforeAll(async () => {
    db = await openMediumDatabase();
    batches = new IssuanceRepository(db.connection);
    serials = new CardsRepository(db.connection);
  });
  afterAll(() => db.close());

  it('reserves consecutive serials, plans chunks, counts what is minted and what is open', async () => {
    await db.rolledBack(async (ctx) => {
      const first = Number(await serials.reserve(ctx, 25));
      expect(Number(await serials.reserve(ctx, 1))).toBe(first + 25);
      const now = new Date();
      const orderId = newId('order');
      const batch: IssuanceBatch = {
        id: newId('batch'),
        orderId,
        enterpriseId: newId('enterprise'),
        lineNo: 1,
        productId: newId('product'),
        cardType: 'anonymous',
        faceValue: 10_000,
        count: 25,
        chunkSize: 10,
        serialStart: first,
        issuedCount: 0,
        status: 'queued',
        failureReason: null,
        expiresAt: null,
        startedAt: null,
        completedAt: null,
        createdAt: now,
        updatedAt: now,
      };
      await batches.insertBatch(ctx, batch);
      expect(await batches.unmintedChunks(ctx, [batch.id])).toEqual(
        [0, 1, 2].map((chunkNo) => ({ batchId: batch.id, chunkNo })),
      );
      expect(await batches.lockChunk(ctx, batch.id, 2)).toEqual({ count: 5, doneAt: null });
      await batches.markRunning(ctx, batch.id);
      await batches.markChunkDone(ctx, batch.id, 2);
      expect(await batches.addIssued(ctx, batch.id, 5)).toEqual({ issuedCount: 5, count: 25 });
      expect(await batches.unmintedChunks(ctx, [batch.id])).toHaveLength(2);
      expect(await batches.unfinishedBatchIds(ctx)).toContain(batch.id);
      expect(await batches.orderProgress(ctx, orderId)).toEqual({ open: 1, cards: 25 });
      await batches.markCompleted(ctx, batch.id);
      expect(await batches.orderProgress(ctx, orderId)).toEqual({ open: 0, cards: 25 });
      expect((await batches.batchesOf(ctx, [orderId]))[0]).toMatchObject({ status: 'completed', issuedCount: 5 });
    });
  });

  it('cancels only queued batches and fails only unfinished ones', async () => {
    await db.rolledBack(async (ctx) => {
      const now = new Date();
      const orderId = newId('order');
      const base = {
        orderId,
        enterpriseId: newId('enterprise'),
        productId: newId('product'),
        cardType: 'anonymous' as const,
        faceValue: 10_000,
        count: 1,
        chunkSize: 10,
        serialStart: Number(await serials.reserve(ctx, 2)),
        issuedCount: 0,
        status: 'queued' as const,
        failureReason: null,
        expiresAt: null,
        startedAt: null,
        completedAt: null,
        createdAt: now,
        updatedAt: now,
      };
      const queued = { ...base, id: newId('batch'), lineNo: 1 };
      const running = { ...base, id: newId('batch'), lineNo: 2 };
      await batches.insertBatch(ctx, queued);
      await batches.insertBatch(ctx, running);
      // Each change says whether it made it: chunks racing to start (or fail) a batch count it once.
      expect(await batches.markRunning(ctx, running.id)).toBe(true);
      expect(await batches.markRunning(ctx, running.id)).toBe(false);
      await batches.cancelQueued(ctx, orderId);
      expect(await batches.markFailed(ctx, running.id, 'database down')).toBe(true);
      expect(await batches.markFailed(ctx, running.id, 'again')).toBe(false);
      expect(await batches.markFailed(ctx, queued.id, 'too late')).toBe(false);
      const found = await batches.batchesOf(ctx, [orderId]);
      expect(found.map((batch) => [batch.lineNo, batch.status, batch.failureReason])).toEqual([
        [1, 'cancelled', null],
        [2, 'failed', 'database down'],
      ]);
    });
  });
});
