import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { FileStorage } from '../storage/file-storage';
import { type CreateStatementRunDto, StatementRunDto } from './dto/statement-run.dto';
import type { StatementRun } from './statement-run.entity';
import { StatementRunRepository } from './statement-run.repository';
import { shanghaiDay } from './statement-period';
import { CSV_CONTENT_TYPE, type StatementFile, StatementService, XLSX_CONTENT_TYPE } from './statement.service';

/** A run's file in the file store. */
export const statementRunKey = (run: Pick<StatementRun, 'id' | 'format'>) => `statements/${run.id}.${run.format}`;

/**
 * Statement runs (README "Finance: statements", large periods): a statement file asked for now, built by a worker
 * (StatementRunJob) into the file store, announced by statement.ready and downloaded with the caller's token until it
 * expires. The Stripe report-run pattern: POST creates the run, GET polls it, its download_url serves the file.
 */
@Injectable()
export class StatementRunService {
  constructor(
    private readonly runs: StatementRunRepository,
    private readonly statements: StatementService,
    private readonly storage: FileStorage,
    private readonly transactions: TransactionService,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
  ) {}

  /** POST /v1/statement-runs: the run, `building`; the job is enqueued once it is committed. */
  async create(ctx: RequestContext, dto: CreateStatementRunDto): Promise<StatementRunDto> {
    const { from, to } = this.statements.period(dto);
    if (from.getTime() === to.getTime()) {
      throw ApiError.badRequest('invalid_period', 'The period is empty: to must be after from', {
        from: from.toISOString(),
        to: to.toISOString(),
      });
    }
    const run: StatementRun = {
      id: newId('statement'),
      enterpriseId: ctx.enterpriseId,
      status: 'building',
      format: dto.format,
      periodFrom: from,
      periodTo: to,
      sizeBytes: null,
      sha256: null,
      failureReason: null,
      createdByClientId: ctx.clientId!,
      createdAt: new Date(),
      completedAt: null,
      expiresAt: null,
    };
    await this.transactions.run(ctx, async () => {
      await this.runs.insert(ctx, run);
      await this.transactions.afterCommit(ctx, () => this.enqueue(run.id));
    });
    return StatementRunDto.from(run, this.config.publicUrl);
  }

  /** Enqueued under the run's id: a second enqueue of the same id does nothing. */
  async enqueue(statementRunId: string): Promise<void> {
    await this.queues.add(JobName.BuildStatement, { statementRunId }, { jobId: statementRunId });
  }

  async get(ctx: RequestContext, id: string): Promise<StatementRunDto> {
    return StatementRunDto.from(await this.find(ctx, id), this.config.publicUrl);
  }

  /**
   * GET /v1/statement-runs/{id}/file: the stored file. 409 statement_run_not_ready while it is built; 410
   * statement_run_expired once it expired (or the build failed).
   */
  async file(ctx: RequestContext, id: string): Promise<StatementFile & { sizeBytes: number; sha256: string }> {
    const run = await this.find(ctx, id);
    if (run.status === 'building') {
      throw ApiError.conflict('statement_run_not_ready', 'The statement file is still being built', {
        status: run.status,
      });
    }
    const stored = run.status === 'ready' ? await this.storage.read(statementRunKey(run)) : null;
    if (!stored) {
      throw new ApiError(
        410,
        'statement_run_expired',
        run.status === 'failed'
          ? 'The statement file could not be built; ask for it again'
          : 'The statement file has expired; ask for it again',
      );
    }
    const name = `fuli-statement-${shanghaiDay(run.periodFrom)}-${shanghaiDay(new Date(run.periodTo.getTime() - 1))}`;
    return {
      contentType: run.format === 'csv' ? CSV_CONTENT_TYPE : XLSX_CONTENT_TYPE,
      fileName: `${name}.${run.format}`,
      body: stored.stream,
      sizeBytes: stored.info.sizeBytes,
      sha256: stored.info.sha256,
    };
  }

  private async find(ctx: RequestContext, id: string): Promise<StatementRun> {
    const run = isId('statement', id) ? await this.runs.find(ctx, id, { enterpriseId: ctx.enterpriseId }) : null;
    if (!run) throw ApiError.notFound('statement_run', id);
    return run;
  }
}
