import { Injectable, Logger } from '@nestjs/common';
import { RequestContext } from '../common/context/request-context';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { EventsService } from '../events/events.service';
import { OnJob, type JobContext } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { FileStorage } from '../storage/file-storage';
import { statementRunDownloadUrl } from './dto/statement-run.dto';
import { StatementRunRepository } from './statement-run.repository';
import { statementRunKey } from './statement-run.service';
import { StatementService } from './statement.service';

/** How long a built statement file can be downloaded before the file store's purge deletes it. */
export const STATEMENT_RUN_TTL_MS = 7 * 86_400_000;

/**
 * The worker side of a statement run: the file streamed from the statement's COPY straight into the file store
 * (bounded memory), then, in one transaction, the run marked ready and statement.ready recorded. Safe to run twice:
 * only a `building` run is built, and a second write of the same key replaces the first.
 */
@Injectable()
export class StatementRunJob {
  private readonly logger = new Logger(StatementRunJob.name);

  constructor(
    private readonly runs: StatementRunRepository,
    private readonly statements: StatementService,
    private readonly storage: FileStorage,
    private readonly transactions: TransactionService,
    private readonly events: EventsService,
    private readonly config: AppConfig,
  ) {}

  @OnJob(JobName.BuildStatement)
  async build(payload: { statementRunId: string }, job?: JobContext): Promise<{ built: boolean }> {
    const ctx = RequestContext.system();
    const run = await this.runs.find(ctx, payload.statementRunId);
    if (!run || run.status !== 'building') return { built: false };
    try {
      const file = await this.statements.fileOf(run.enterpriseId, run.periodFrom, run.periodTo, run.format);
      const expiresAt = new Date(Date.now() + STATEMENT_RUN_TTL_MS);
      const stored = await this.storage.write(statementRunKey(run), file.body, { expiresAt });
      return await this.transactions.run(ctx, async () => {
        const locked = await this.runs.find(ctx, run.id, { lock: true });
        if (!locked || locked.status !== 'building') return { built: false };
        await this.runs.update(ctx, run.id, {
          status: 'ready',
          sizeBytes: stored.sizeBytes,
          sha256: stored.sha256,
          completedAt: new Date(),
          expiresAt,
        });
        await this.events.record(ctx, {
          enterpriseId: run.enterpriseId,
          type: 'statement.ready',
          data: {
            statement_run_id: run.id,
            from: run.periodFrom.toISOString(),
            to: run.periodTo.toISOString(),
            format: run.format,
            size_bytes: stored.sizeBytes,
            sha256: stored.sha256,
            expires_at: expiresAt.toISOString(),
            download_url: statementRunDownloadUrl(this.config.publicUrl, run.id),
          },
        });
        return { built: true };
      });
    } catch (error) {
      // The last attempt: the run is marked failed rather than left building for ever.
      if (job && job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        this.logger.error({ msg: 'statement run failed', statementRunId: run.id, err: error });
        await this.runs.update(ctx, run.id, {
          status: 'failed',
          failureReason: 'The file could not be built; ask for it again',
          completedAt: new Date(),
        });
      }
      throw error;
    }
  }
}
