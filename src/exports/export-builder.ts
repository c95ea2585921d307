import { Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { AuditService } from '../audit/audit.service';
import { CardsRepository } from '../cards/cards.repository';
import { RequestContext } from '../common/context/request-context';
import { isId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { ExportKeysService } from '../export-keys/export-keys.service';
import type { CardExport } from '../issuance/card-export.entity';
import { CardSecrets } from '../cards/card-secrets';
import { IssuanceRepository } from '../issuance/issuance.repository';
import { OrdersService } from '../orders/orders.service';
import { OnJob, type JobContext } from '../queue/on-job.decorator';
import { JobName, type JobPayloads } from '../queue/queue.constants';
import { chunkConverterFor } from './decrypt-pool';
import { ExportBuildError } from './export-csv';
import { writeExportFile, type ExportFileResult } from './export-file';
import { exportLiteralName } from './export-policy';
import { ExportStorage } from './export-storage';
import { ExportsRepository } from './exports.repository';
import { storedRecipientKey } from './export-recipient';

/** Cards whose ciphertext one purge statement clears: one short transaction each. */
const PURGE_BATCH = 10_000;

/** Another worker holds the export's build lock: retry later, and never mark the export failed for it. */
class ExportBusyError extends Error {
  override readonly name = 'ExportBusyError';
}

/**
 * The `build-export` job: COPY the order's cards out of Postgres, open each envelope, write the CSV through
 * OpenPGP.js into the file store (FileStorage), record the manifest, purge anonymous ciphertexts when asked, mark ready.
 *
 * Idempotent and crash-safe. A ready or failed export is left alone. The build holds a session advisory lock
 * on its own connection, so a stalled job's duplicate waits instead of writing the same file. The store shows a
 * file only once it is complete; the manifest and storage_path are recorded before the purge, so a retry after a
 * crash finds the finished file (same size as recorded) and only resumes the purge and the final update, while a
 * half-written file was never visible and is simply rebuilt (the ciphertexts are still there).
 */
@Injectable()
export class ExportBuilder {
  private readonly logger = new Logger(ExportBuilder.name);

  constructor(
    private readonly exports: ExportsRepository,
    private readonly cardSecrets: CardsRepository,
    private readonly batches: IssuanceRepository,
    private readonly exportKeys: ExportKeysService,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    private readonly secrets: CardSecrets,
    private readonly storage: ExportStorage,
    private readonly config: AppConfig,
    private readonly orders: OrdersService,
  ) {}

  @OnJob(JobName.BuildExport)
  async build({ exportId }: JobPayloads[JobName.BuildExport], job: JobContext): Promise<{ status: string }> {
    if (!isId('export', exportId)) throw new UnrecoverableError('build-export: exportId is not an export id');
    await this.storage.sweep().catch((err: unknown) => this.logger.warn({ msg: 'export file sweep failed', err }));
    const found = await this.exports.find(RequestContext.system(), { id: exportId });
    if (!found) throw new UnrecoverableError(`build-export: no export ${exportId}`);
    // Unconfirmed purging exports are never built (nor purged); a job for one (a relay's) is a no-op.
    if (found.status === 'ready' || found.status === 'failed' || found.status === 'awaiting_purge_confirmation') {
      return { status: found.status };
    }

    try {
      const built = await this.exports.withBuildLock(exportId, () => this.buildLocked(exportId));
      if (!built.locked) throw new ExportBusyError(`export ${exportId} is being built by another worker`);
      return { status: built.result };
    } catch (error) {
      if (error instanceof ExportBusyError) throw error;
      const permanent = error instanceof ExportBuildError;
      const lastAttempt = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (lastAttempt) {
        const reason = permanent
          ? `${error.code}: ${error.message}`
          : 'internal_error: the export could not be built; request a new one';
        await this.markFailed(exportId, reason);
      }
      const entry = { msg: 'export build failed', exportId, lastAttempt, err: error };
      if (lastAttempt) this.logger.error(entry);
      else this.logger.warn(entry);
      throw permanent ? new UnrecoverableError(error.message) : error;
    }
  }

  /** Under the build lock: (re)build the file unless it is already complete, purge if asked, mark ready. */
  private async buildLocked(exportId: string): Promise<string> {
    const pool = RequestContext.system();
    let record = await this.findOrFail(pool, exportId);
    if (record.status !== 'pending' && record.status !== 'running') return record.status;
    await this.assertKeyConfirmed(pool, record);
    if (record.status === 'pending') await this.exports.update(pool, exportId, { status: 'running' }, ['pending']);
    if (!(await this.fileComplete(record))) {
      const manifest = await this.writeFile(record);
      await this.exports.update(pool, exportId, {
        rowCount: manifest.rowCount,
        plaintextSha256: manifest.plaintextSha256,
        sizeBytes: String(manifest.sizeBytes),
        storagePath: this.storage.keyOf(exportId),
      });
      record = await this.findOrFail(pool, exportId);
    }
    const purged = record.purgeAfterExport ? await this.purgeAnonymous(record) : null;

    const ctx = RequestContext.system();
    return this.transactions.run(ctx, async () => {
      // The order first, then the export (completeIfHandedOver below updates the order): the lock order of
      // ExportsService.create() and confirmPurge(), which deadlocked with this transaction the other way round.
      await this.orders.lockOrder(ctx, record.enterpriseId, record.orderId);
      const ready = await this.exports.update(ctx, exportId, { status: 'ready', completedAt: new Date() }, ['running']);
      if (!ready) return (await this.findOrFail(ctx, exportId)).status;
      await this.audit.record(ctx, {
        action: 'card_export.ready',
        objectType: 'card_export',
        objectId: exportId,
        enterpriseId: record.enterpriseId,
        summary: {
          order_id: record.orderId,
          row_count: record.rowCount,
          plaintext_sha256: record.plaintextSha256,
          size_bytes: Number(record.sizeBytes),
          recipient_fingerprint: record.encryption.recipient_fingerprint,
          anonymous_ciphertexts_purged: purged,
        },
      });
      // Every card of the order is in the file now: its cards are handed over (README, order completion).
      await this.orders.completeIfHandedOver(ctx, record.orderId, { exported: true });
      this.logger.log({ msg: 'export ready', exportId, orderId: record.orderId, rows: record.rowCount });
      return 'ready';
    });
  }

  /** A key revoked after the request stops builds not finished yet: nothing more is encrypted to it. */
  private async assertKeyConfirmed(ctx: RequestContext, record: CardExport): Promise<void> {
    if (!record.exportKeyId) return;
    if (!(await this.exportKeys.isConfirmed(ctx, record.exportKeyId))) {
      throw new ExportBuildError('export_key_revoked', `export key ${record.exportKeyId} is no longer confirmed`);
    }
  }

  /** Whether the file recorded for this export is stored with the recorded size (then it was stored complete). */
  private async fileComplete(record: CardExport): Promise<boolean> {
    if (!record.storagePath || record.sizeBytes === null) return false;
    const stored = await this.storage.stat(record.storagePath);
    return stored !== null && stored.sizeBytes === Number(record.sizeBytes);
  }

  /**
   * Streams the order's cards through decryption into the encrypted file (the COPY: CardsRepository).
   */
  private async writeFile(record: CardExport): Promise<ExportFileResult> {
    const recipient = await storedRecipientKey(record.encryption);
    const cards = await this.batches.issuedCards(RequestContext.system(), record.orderId);
    const converter = chunkConverterFor({
      expectedRows: cards,
      secrets: this.secrets.reader(),
      keys: this.config,
      threads: this.config.EXPORT_DECRYPT_THREADS,
    });
    const started = process.hrtime.bigint();
    let result: ExportFileResult;
    try {
      result = await this.cardSecrets.streamOrderSecrets(record.orderId, (copy) =>
        writeExportFile({
          copy,
          converter,
          recipient,
          store: (encrypted) => this.storage.write(record.id, encrypted),
          literalName: exportLiteralName(record),
          date: record.createdAt,
        }),
      );
    } finally {
      await converter.close();
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.logger.log({
      msg: 'export file written',
      exportId: record.id,
      rows: result.rowCount,
      bytes: result.sizeBytes,
      threads: converter.parallelism > 1 ? converter.parallelism / 2 : 1,
      seconds: Math.round(seconds * 1000) / 1000,
    });
    return result;
  }

  /**
   * Clears the ciphertext of the order's anonymous cards, PURGE_BATCH cards per statement along the
   * (order_id, serial) index, so no transaction holds many row locks for long. Idempotent: a rerun skips what
   * is already NULL. Registered cards keep theirs. Returns how many ciphertexts this run cleared.
   */
  private async purgeAnonymous(record: CardExport): Promise<number> {
    const pool = RequestContext.system();
    const batchIds = await this.batches.anonymousBatchIds(pool, record.orderId);
    let purged = 0;
    if (batchIds.length > 0) {
      for (let after = '0'; ;) {
        const step = await this.cardSecrets.purgeSecretsAfter(pool, record.orderId, batchIds, after, PURGE_BATCH);
        if (step.last === null) break;
        purged += step.purged;
        after = step.last;
      }
    }
    const ctx = RequestContext.system();
    await this.audit.record(ctx, {
      action: 'cards.secrets_purged',
      objectType: 'order',
      objectId: record.orderId,
      enterpriseId: record.enterpriseId,
      summary: { export_id: record.id, card_type: 'anonymous', cards: purged },
    });
    return purged;
  }

  /** Marks a pending or running export failed (audited) and deletes a file it may have left. */
  private async markFailed(exportId: string, reason: string): Promise<void> {
    const ctx = RequestContext.system();
    const leftover = await this.transactions.run(ctx, async () => {
      const record = await this.exports.find(ctx, { id: exportId });
      if (!record || (record.status !== 'pending' && record.status !== 'running')) return null;
      await this.exports.update(ctx, exportId, {
        status: 'failed',
        failureReason: reason.slice(0, 500),
        completedAt: new Date(),
        storagePath: null,
      });
      await this.audit.record(ctx, {
        action: 'card_export.failed',
        objectType: 'card_export',
        objectId: exportId,
        enterpriseId: record.enterpriseId,
        summary: { order_id: record.orderId, reason: reason.slice(0, 500) },
      });
      return record.storagePath;
    });
    if (leftover) await this.storage.remove(leftover);
  }

  private async findOrFail(ctx: RequestContext, exportId: string): Promise<CardExport> {
    const record = await this.exports.find(ctx, { id: exportId });
    if (!record) throw new Error(`export ${exportId} vanished`);
    return record;
  }
}
