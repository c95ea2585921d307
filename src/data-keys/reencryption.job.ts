import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { AuditService } from '../audit/audit.service';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { CardSecrets } from '../cards/card-secrets';
import { RequestContext } from '../common/context/request-context';
import { isId } from '../common/ids';
import { TransactionService } from '../database/transaction.service';
import type { SealedPageRow } from '../database/sealed-column-sql';
import { OnJob, type JobContext } from '../queue/on-job.decorator';
import { JobName, type JobPayloads } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import {
  applyBatch,
  fromCensus,
  MAX_UNREADABLE_SAMPLES,
  pendingProgress,
  staleCount,
  sum,
  targetKeyIdOf,
} from './reencryption-progress';
import { DataKeysRepository } from './data-keys.repository';
import { SealedColumnOwners } from './sealed-column-owners';
import type { ReencryptionRun, ColumnProgress, CountsByKeyId } from './reencryption-run.entity';
import { isUnreadable, SealedColumns, type SealedColumn } from './sealed-columns';
/** deadlock_detected, serialization_failure: a batch that lost to a concurrent writer is simply tried again. */
const TRANSIENT_SQLSTATES = new Set(['40P01', '40001']);
const BATCH_ATTEMPTS = 3;

/** Another worker is walking (a stalled job's duplicate): retry later, never mark the run failed for it. */
class ReencryptionBusyError extends Error {
  override readonly name = 'ReencryptionBusyError';
}

/** The run cannot go on in this process; the message (no key material) becomes the run's failure reason. */
class ReencryptionRefusedError extends Error {
  override readonly name = 'ReencryptionRefusedError';
}

type PageRow = SealedPageRow;

/** A page with its stale envelopes re-sealed in memory, ready to be stored. */
interface PreparedBatch {
  /** Rows of the page. */
  scanned: number;
  /** Primary key of its last row: the checkpoint once it commits. */
  last: string[];
  /** Per re-sealed row: its key, the envelope read, the new one, and the key id it had. */
  keys: string[][];
  stale: string[];
  fresh: string[];
  keyIds: string[];
  unreadable: CountsByKeyId;
  unreadableSamples: string[];
}

/**
 * The `re-encrypt-data` job: after a key rotation, walks every encrypted column (SealedColumns) in primary-key
 * order, `batchSize` rows at a time, and seals every envelope that is not under the run's target key again under
 * it, with the row's own associated data.
 *
 * - Short transactions: each batch's conditional UPDATE (only rows whose envelope is still the one read, so a
 *   concurrent purge or write is never overwritten) commits together with the run's checkpoint (cursor and
 *   counters), so a run killed at any moment resumes after its last committed batch, counting nothing twice.
 * - Idempotent: rows already under the target are neither decrypted nor written; a second run finds nothing
 *   stale in its census and walks nothing. Only one walk at a time (a session advisory lock).
 * - Rows that do not open (key no longer configured, altered) are counted by key id and left alone.
 * - Never holds more than one batch, never logs an envelope, a plaintext or a key.
 */
@Injectable()
export class ReencryptionJob implements OnApplicationBootstrap {
  private readonly logger = new Logger(ReencryptionJob.name);

  constructor(
    private readonly runs: DataKeysRepository,
    private readonly owners: SealedColumnOwners,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    private readonly cipher: DataCipher,
    private readonly columns: SealedColumns,
    private readonly queues: QueueService,
    private readonly secrets: CardSecrets,
  ) {}

  /** A run left queued or running by a crash between its commit and its enqueue is picked up again. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.queues.isWorker) return;
    const unfinished = await this.runs.unfinishedIds(RequestContext.system());
    for (const runId of unfinished) await this.queues.add(JobName.ReencryptData, { runId }, { jobId: runId });
  }

  @OnJob(JobName.ReencryptData)
  async run({ runId }: JobPayloads[JobName.ReencryptData], job: JobContext): Promise<{ status: string }> {
    if (!isId('reencryption', runId)) throw new UnrecoverableError('re-encrypt-data: runId is not a re-encryption id');
    const found = await this.runs.find(RequestContext.system(), runId);
    if (!found) throw new UnrecoverableError(`re-encrypt-data: no run ${runId}`);
    if (found.status === 'completed' || found.status === 'failed') return { status: found.status };

    try {
      const walked = await this.runs.withWalkLock(() => this.runLocked(runId));
      if (!walked.locked) throw new ReencryptionBusyError('another worker is re-encrypting');
      return { status: walked.result };
    } catch (error) {
      if (error instanceof ReencryptionBusyError) throw error;
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (lastAttempt) {
        const reason =
          error instanceof ReencryptionRefusedError
            ? error.message
            : 'internal_error: the run stopped; rows it re-encrypted stay so, start a new run to finish';
        await this.markFailed(runId, reason);
      }
      const entry = { msg: 're-encryption attempt failed', runId, lastAttempt, err: error };
      if (lastAttempt) this.logger.error(entry);
      else this.logger.warn(entry);
      throw error;
    }
  }

  /** Under the walk lock: census, walk each column, complete. */
  private async runLocked(runId: string): Promise<string> {
    const pool = RequestContext.system();
    const run = await this.runs.find(pool, runId);
    if (!run) throw new Error(`re-encryption ${runId} vanished`);
    if (run.status === 'completed' || run.status === 'failed') return run.status;
    const target = run.targetKeyId;
    if (this.cipher.activeKeyId !== target) {
      // A worker not restarted with the new keys would seal under its own (older) active key: never let it.
      throw new ReencryptionRefusedError(
        `key_mismatch: this worker seals with key '${this.cipher.activeKeyId}' but the run targets '${target}'; ` +
          'restart every process with the new DATA_ENCRYPTION_KEYS, then start a new run',
      );
    }
    if (run.targetCodeKeyId !== null && this.secrets.blindIndexKeyId !== run.targetCodeKeyId) {
      // The same for the pepper: cards re-indexed under another pepper would not be found by the API processes.
      throw new ReencryptionRefusedError(
        `key_mismatch: this worker indexes card codes with pepper '${this.secrets.blindIndexKeyId}' but the run ` +
          `targets '${run.targetCodeKeyId}'; restart every process with the new CODE_PEPPER, then start a new run`,
      );
    }
    if (run.status === 'queued') {
      await this.runs.transition(pool, runId, ['queued'], { status: 'running', startedAt: new Date() });
      this.logger.log({ msg: 're-encryption started', runId, targetKeyId: target });
    }
    const started = Date.now();

    // Counted once, before the first batch, so that progress has totals from the start (kept across restarts).
    const progress: Record<string, ColumnProgress> = { ...run.progress };
    const uncounted = this.columns.all.filter((column) => (progress[column.name]?.state ?? 'pending') === 'pending');
    for (const column of uncounted) {
      const census = await this.census(column);
      const stale = staleCount(census.keys, targetKeyIdOf(run, column.name)) > 0;
      progress[column.name] = {
        ...pendingProgress(),
        state: stale ? 'running' : 'done',
        rowsAtStart: census.rows,
        keysAtStart: census.keys,
        // Nothing to re-seal: the column is done without a walk (a second run costs one count per column).
        keysAfter: stale ? null : census.keys,
      };
    }
    if (uncounted.length > 0) await this.saveProgress(runId, progress);

    for (const column of this.columns.all) {
      if (progress[column.name].state === 'running') {
        progress[column.name] = await this.walk(run, column, progress[column.name]);
      }
    }
    return this.complete(run, progress, Date.now() - started);
  }

  /** Walks one column from its cursor to the end, committing each batch with its checkpoint. */
  private async walk(run: ReencryptionRun, column: SealedColumn, from: ColumnProgress): Promise<ColumnProgress> {
    const notUnder = column.stalenessParam(targetKeyIdOf(run, column.name));
    const started = Date.now();
    const read = async (cursor: string[] | null): Promise<PreparedBatch | null> => {
      const page = await this.owners.of(column).page(RequestContext.system(), column, notUnder, run.batchSize, cursor);
      return page.length === 0 ? null : this.prepare(column, page);
    };
    let progress = from;
    let next: Promise<PreparedBatch | null> | null = read(progress.cursor);
    while (next) {
      const batch: PreparedBatch | null = await next;
      if (!batch) break;
      // The next page is read and re-sealed while this one commits: Node encrypts while Postgres writes. (A
      // failed commit leaves it unread: the handler only keeps its rejection from going unhandled.)
      next = batch.scanned < run.batchSize ? null : read(batch.last);
      next?.catch(() => undefined);
      progress = await this.commitBatch(run, column, progress, batch);
    }
    const after = await this.census(column);
    progress = { ...progress, state: 'done', keysAfter: after.keys };
    await this.saveColumn(run.id, column.name, progress);
    this.logger.log({
      msg: 're-encryption column done',
      runId: run.id,
      column: column.name,
      scanned: progress.scanned,
      reencrypted: sum(progress.reencrypted),
      unreadable: sum(progress.unreadable),
      changedConcurrently: sum(progress.changed),
      seconds: (Date.now() - started) / 1000,
    });
    return progress;
  }

  /** Re-seals a page's stale envelopes in memory; those that do not open are counted and left alone. */
  private prepare(column: SealedColumn, page: PageRow[]): PreparedBatch {
    const keyOf = (row: PageRow) => column.key.map((_, i) => row[`k${i}`] as string);
    const batch: PreparedBatch = {
      scanned: page.length,
      last: keyOf(page[page.length - 1]),
      keys: [],
      stale: [],
      fresh: [],
      keyIds: [],
      unreadable: {},
      unreadableSamples: [],
    };
    for (const row of page) {
      if (row.stale === null) continue;
      const keyId = row.key_id ?? '';
      try {
        batch.fresh.push(column.reseal(keyOf(row), row.stale));
      } catch (error) {
        if (!isUnreadable(error)) throw error;
        batch.unreadable[keyId] = (batch.unreadable[keyId] ?? 0) + 1;
        if (batch.unreadableSamples.length < MAX_UNREADABLE_SAMPLES) batch.unreadableSamples.push(keyOf(row).join('/'));
        continue;
      }
      batch.keys.push(keyOf(row));
      batch.stale.push(row.stale);
      batch.keyIds.push(keyId);
    }
    return batch;
  }

  /**
   * Stores a batch's re-sealed envelopes (only where the envelope read is still in place) and the checkpoint
   * in one transaction; tried again when it loses a deadlock to a concurrent writer.
   */
  private async commitBatch(
    run: ReencryptionRun,
    column: SealedColumn,
    progress: ColumnProgress,
    batch: PreparedBatch,
  ): Promise<ColumnProgress> {
    for (let attempt = 1; ; attempt++) {
      try {
        const ctx = RequestContext.system();
        return await this.transactions.run(ctx, async () => {
          const updated = await this.owners.of(column).reseal(ctx, column, batch.keys, batch.stale, batch.fresh);
          const written = new Set(updated.map((row) => column.key.map((_, i) => row[`k${i}`]).join('\u0000')));
          const reencrypted: CountsByKeyId = {};
          const changed: CountsByKeyId = {};
          batch.keys.forEach((key, i) => {
            const counts = written.has(key.join('\u0000')) ? reencrypted : changed;
            counts[batch.keyIds[i]] = (counts[batch.keyIds[i]] ?? 0) + 1;
          });
          const next = applyBatch(progress, {
            scanned: batch.scanned,
            cursor: batch.last,
            reencrypted,
            unreadable: batch.unreadable,
            changed,
            unreadableSamples: batch.unreadableSamples,
          });
          await this.saveColumn(run.id, column.name, next, ctx);
          return next;
        });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt < BATCH_ATTEMPTS && typeof code === 'string' && TRANSIENT_SQLSTATES.has(code)) continue;
        // TypeORM's QueryFailedError carries the query's parameters (every envelope of the batch): keep them
        // out of the logs that record a failed attempt, and keep the SQLSTATE.
        throw Object.assign(new Error(`storing a batch of ${column.name} failed: ${(error as Error).message}`), {
          code,
        });
      }
    }
  }

  private async complete(run: ReencryptionRun, progress: Record<string, ColumnProgress>, ms: number): Promise<string> {
    const ctx = RequestContext.system();
    return this.transactions.run(ctx, async () => {
      const completed = await this.runs.transition(ctx, run.id, ['running'], {
        status: 'completed',
        completedAt: new Date(),
      });
      if (!completed) return (await this.runs.find(ctx, run.id))?.status ?? 'failed';
      const columns = Object.fromEntries(
        this.columns.all.map((column) => {
          const p = progress[column.name];
          const left = Object.fromEntries(
            Object.entries(p.keysAfter ?? {}).filter(
              ([keyId, count]) => keyId !== targetKeyIdOf(run, column.name) && count > 0,
            ),
          );
          return [
            column.name,
            {
              scanned: p.scanned,
              reencrypted: sum(p.reencrypted),
              unreadable: sum(p.unreadable),
              changed_concurrently: sum(p.changed),
              left_under_other_keys: left,
            },
          ];
        }),
      );
      await this.audit.record(ctx, {
        action: 'data_keys.reencryption_completed',
        objectType: 'reencryption',
        objectId: run.id,
        summary: { target_key_id: run.targetKeyId, target_code_key_id: run.targetCodeKeyId, columns },
      });
      this.logger.log({ msg: 're-encryption completed', runId: run.id, seconds: ms / 1000 });
      return 'completed';
    });
  }

  /** Rows per key id of one column. */
  private async census(column: SealedColumn): Promise<{ rows: number; keys: CountsByKeyId }> {
    return fromCensus(await this.owners.of(column).census(RequestContext.system(), column));
  }

  private async saveProgress(runId: string, progress: Record<string, ColumnProgress>): Promise<void> {
    if (!(await this.runs.saveProgress(RequestContext.system(), runId, progress)))
      throw new ReencryptionRefusedError(`run_not_running: run ${runId} is no longer running`);
  }

  /**
   * Stores one column's progress; within a batch's transaction the run must still be running, or the batch
   * rolls back with it.
   */
  private async saveColumn(
    runId: string,
    column: string,
    progress: ColumnProgress,
    ctx = RequestContext.system(),
  ): Promise<void> {
    if (!(await this.runs.saveColumn(ctx, runId, column, progress)))
      throw new ReencryptionRefusedError(`run_not_running: run ${runId} is no longer running`);
  }

  /** Marks a queued or running run failed, audited. */
  private async markFailed(runId: string, reason: string): Promise<void> {
    const ctx = RequestContext.system();
    await this.transactions.run(ctx, async () => {
      const failed = await this.runs.transition(ctx, runId, ['queued', 'running'], {
        status: 'failed',
        failureReason: reason.slice(0, 500),
        completedAt: new Date(),
      });
      if (!failed) return;
      await this.audit.record(ctx, {
        action: 'data_keys.reencryption_failed',
        objectType: 'reencryption',
        objectId: runId,
        summary: { reason: reason.slice(0, 500) },
      });
    });
  }
}
