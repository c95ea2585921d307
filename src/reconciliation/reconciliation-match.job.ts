import { Injectable, Logger } from '@nestjs/common';
import { RequestContext } from '../common/context/request-context';
import { TransactionService } from '../database/transaction.service';
import { EventsService } from '../events/events.service';
import { OnJob, type JobContext } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { ReconciliationMatchRepository } from './reconciliation-match.repository';

/**
 * The worker side of upload and match: one reconciliation's rows matched in one statement (matchSql), its counts
 * stored and reconciliation.completed recorded, all in one transaction. Safe to run twice: the reconciliation row is
 * locked and only a `processing` one is matched.
 */
@Injectable()
export class ReconciliationMatchJob {
  private readonly logger = new Logger(ReconciliationMatchJob.name);

  constructor(
    private readonly repository: ReconciliationMatchRepository,
    private readonly transactions: TransactionService,
    private readonly events: EventsService,
  ) {}

  @OnJob(JobName.MatchReconciliation)
  async match(payload: { reconciliationId: string }, job?: JobContext): Promise<{ matched: boolean }> {
    const ctx = RequestContext.system();
    try {
      return await this.transactions.run(ctx, async () => {
        const reconciliation = await this.repository.find(ctx, payload.reconciliationId, { lock: true });
        if (!reconciliation || reconciliation.status !== 'processing') return { matched: false };
        await this.repository.deleteDifferences(ctx, reconciliation.id);
        const counts = await this.repository.match(ctx, reconciliation);
        await this.repository.update(ctx, reconciliation.id, { status: 'completed', counts, completedAt: new Date() });
        await this.events.record(ctx, {
          enterpriseId: reconciliation.enterpriseId,
          type: 'reconciliation.completed',
          data: {
            reconciliation_id: reconciliation.id,
            row_count: reconciliation.rowCount,
            period_from: reconciliation.periodFrom,
            period_to: reconciliation.periodTo,
            counts,
          },
        });
        return { matched: true };
      });
    } catch (error) {
      // The last attempt: the upload is marked failed rather than left processing for ever.
      if (job && job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        this.logger.error({
          msg: 'reconciliation matching failed',
          reconciliationId: payload.reconciliationId,
          err: error,
        });
        await this.repository.update(ctx, payload.reconciliationId, {
          status: 'failed',
          failureReason: 'Matching failed; upload the records again',
          completedAt: new Date(),
        });
      }
      throw error;
    }
  }
}
