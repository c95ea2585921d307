import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { TransactionService } from '../database/transaction.service';
import { OnJob } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { DistributionRepository } from './distribution.repository';

/** Distributions the sweep looks at per run; one whose summaries are still unwritten this long after it was created lost its job. */
const SWEEP_LIMIT = 100;
const SWEEP_AGE_MS = 60_000;

/** What `distribution.created` commits of the assignments (DistributionsService.create). */
export interface CommittedAssignments {
  assignment_records: number;
  assignment_sha256: string[];
}

/** The job's one id per distribution: adding it again while it waits does nothing. */
const jobIdOf = (distributionId: string) => `audit-assignments-${distributionId}`;

/**
 * The assignments' audit summaries: who distributed which serial to which employee reference (docs/decisions/0015).
 * The distribution's own `distribution.created` record commits their SHA-256 digests in the request's transaction;
 * this job, after the commit, builds the summaries again from the committed rows with the reservation's own SQL,
 * checks each against its digest, appends them to the chain as `distribution.cards_assigned` records and deletes
 * the rows of the uploaded file the distribution took, all in one transaction. Safe to run twice (the distribution's
 * row, locked, says whether it ran); a lost job is found by the distribution sweep.
 */
@Injectable()
export class AssignmentsAuditJob {
  private readonly logger = new Logger(AssignmentsAuditJob.name);

  constructor(
    private readonly repository: DistributionRepository,
    private readonly audit: AuditService,
    private readonly transactions: TransactionService,
    private readonly queues: QueueService,
  ) {}

  /** Called once the distribution has committed. */
  async enqueue(distributionId: string): Promise<void> {
    await this.queues.add(JobName.AuditDistributionAssignments, { distributionId }, { jobId: jobIdOf(distributionId) });
  }

  /** Returns how many summaries it appended (0: written already). */
  @OnJob(JobName.AuditDistributionAssignments)
  async write(payload: { distributionId: string }): Promise<{ records: number }> {
    const ctx = RequestContext.system();
    return this.transactions.run(ctx, async () => {
      const distribution = await this.repository.lockUnaudited(ctx, payload.distributionId);
      if (!distribution) return { records: 0 };
      const committed = distribution.assignmentsAuditId
        ? ((await this.audit.summaryOf(ctx, distribution.assignmentsAuditId)) as CommittedAssignments | null)
        : null;
      if (!committed || !Array.isArray(committed.assignment_sha256)) {
        throw new Error(
          `distribution ${distribution.id}: its audit record ${distribution.assignmentsAuditId} commits no assignment digests`,
        );
      }
      const summaries = await this.repository.assignmentSummaries(ctx, distribution);
      const differing = summaries.flatMap((chunk, index) =>
        chunk.sha256 === committed.assignment_sha256[index] ? [] : [index],
      );
      if (summaries.length !== committed.assignment_sha256.length || differing.length > 0) {
        // The rows changed after the commit (nothing in the service changes a row's employee_ref or serial): the chain
        // keeps what was committed, and this job fails loudly, over and over, rather than record something else.
        throw new Error(
          `distribution ${distribution.id}: its assignments differ from the digests committed in audit record ` +
            `${distribution.assignmentsAuditId} (${summaries.length} summaries for ${committed.assignment_sha256.length}; ` +
            `differing: ${differing.join(', ') || 'none'})`,
        );
      }
      await this.audit.appendAll(
        ctx,
        summaries.map((chunk) => ({
          action: 'distribution.cards_assigned',
          objectType: 'distribution',
          objectId: distribution.id,
          enterpriseId: distribution.enterpriseId,
          summary: chunk.summary,
        })),
      );
      await this.repository.markAssignmentsAudited(ctx, distribution.id);
      // The uploaded file's rows hold contact and real-name data the recipients' rows now hold themselves.
      if (distribution.fileId) await this.repository.deleteFileRows(ctx, distribution.fileId);
      return { records: summaries.length };
    });
  }

  /** The distribution sweep's part: enqueues again the jobs of distributions whose summaries are overdue. */
  async sweep(): Promise<number> {
    const ids = await this.repository.unauditedDistributions(RequestContext.system(), SWEEP_AGE_MS, SWEEP_LIMIT);
    for (const distributionId of ids) {
      await this.queues.addOrRetryFailed(
        JobName.AuditDistributionAssignments,
        { distributionId },
        { jobId: jobIdOf(distributionId) },
      );
    }
    if (ids.length > 0)
      this.logger.warn({ msg: 'distribution assignments audit overdue, enqueued again', count: ids.length });
    return ids.length;
  }
}
