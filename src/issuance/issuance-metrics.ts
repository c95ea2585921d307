import { Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import type { IssuanceBatch } from './issuance.entity';

type BatchOutcome = 'running' | 'completed' | 'failed';

/**
 * Issuance in /metrics and in the log: cards minted, batches by the status they reached, and a line when a batch
 * starts and when it ends. Called after the commit that made each change, so a rolled-back chunk counts nothing.
 */
@Injectable()
export class IssuanceMetrics {
  private readonly logger = new Logger('Issuance');
  private readonly cardsIssued: Counter;
  private readonly batches: Counter<'status'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.cardsIssued = new Counter({
      name: 'cards_issued_total',
      help: 'Cards minted by this process (committed chunks)',
      registers,
    });
    this.batches = new Counter({
      name: 'batches_total',
      help: 'Issuance batches that reached a status in this process: running (started), completed or failed',
      labelNames: ['status'],
      registers,
    });
    // Every status shows from the first scrape, at 0, so that rate() and alerts see the series before it moves.
    for (const status of ['running', 'completed', 'failed'] satisfies BatchOutcome[]) this.batches.inc({ status }, 0);
  }

  batchStarted(batch: IssuanceBatch): void {
    this.batches.inc({ status: 'running' });
    this.logger.log({
      msg: 'batch started',
      batchId: batch.id,
      orderId: batch.orderId,
      cards: batch.count,
      faceValue: batch.faceValue,
    });
  }

  chunkMinted(cards: number): void {
    this.cardsIssued.inc(cards);
  }

  batchCompleted(batch: IssuanceBatch, startedAt: Date | null): void {
    this.batches.inc({ status: 'completed' });
    const seconds = startedAt ? (Date.now() - startedAt.getTime()) / 1000 : undefined;
    this.logger.log({
      msg: 'batch completed',
      batchId: batch.id,
      orderId: batch.orderId,
      cards: batch.count,
      seconds,
      cardsPerSecond: seconds ? Math.round(batch.count / seconds) : undefined,
    });
  }

  batchFailed(batchId: string, reason: string): void {
    this.batches.inc({ status: 'failed' });
    this.logger.warn({ msg: 'batch failed', batchId, reason });
  }
}
