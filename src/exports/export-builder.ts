import { stat } from 'node:fs/promises';
import { Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { isId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { ExportKey } from '../export-keys/export-key.entity';
import { CardExport } from '../issuance/card-export.entity';
import { CardSecrets } from '../issuance/card-secrets';
import { OnJob, type JobContext } from '../queue/on-job.decorator';
import { JobName, type JobPayloads } from '../queue/queue.constants';
import { chunkConverterFor } from './decrypt-pool';
import { ExportBuildError, exportCopySql } from './export-csv';
import { writeExportFile, type ExportFileResult } from './export-file';
import { exportLiteralName } from './export-policy';
import { ExportStorage } from './export-storage';
import { storedRecipientKey } from './recipient-key';

/** Namespace of the two-key advisory lock held while an export is built (other namespaces: idempotency 7301). */
const BUILD_LOCK_NAMESPACE = 7_302;
/** Cards whose ciphertext one purge statement clears: one short transaction each. */
const PURGE_BATCH = 10_000;

/** Another worker holds the export's build lock: retry later, and never mark the export failed for it. */
class ExportBusyError extends Error {
  override readonly name = 'ExportBusyError';
}

/**
 * The `build-export` job: COPY the order's cards out of Postgres, open each envelope, write the CSV through
 * OpenPGP.js into DATA_DIR/exports, record the manifest, purge anonymous ciphertexts when asked, mark ready.
 *
 * Idempotent and crash-safe. A ready or failed export is left alone. The build holds a session advisory lock
 * on its own connection, so a stalled job's duplicate waits instead of writing the same file. The file is
 * written as `.part` and renamed when complete; the manifest and storage_path are recorded before the purge,
 * so a retry after a crash finds the finished file (same size as recorded) and only resumes the purge and the
 * final update, while a half-written file is simply rebuilt (the ciphertexts are still there).
 */
@Injectable()
export class ExportBuilder {
  private readonly logger = new Logger(ExportBuilder.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    private readonly secrets: CardSecrets,
    private readonly storage: ExportStorage,
    private readonly config: AppConfig,
  ) {}

  @OnJob(JobName.BuildExport)
  async build({ exportId }: JobPayloads[JobName.BuildExport], job: JobContext): Promise<{ status: string }> {
    if (!isId('export', exportId)) throw new UnrecoverableError('build-export: exportId is not an export id');
    await this.storage.sweep().catch((err: unknown) => this.logger.warn({ msg: 'export file sweep failed', err }));
    const found = await this.dataSource.getRepository(CardExport).findOneBy({ id: exportId });
    if (!found) throw new UnrecoverableError(`build-export: no export ${exportId}`);
    // Unconfirmed purging exports are never built (nor purged); a job for one (a relay's) is a no-op.
    if (found.status === 'ready' || found.status === 'failed' || found.status === 'awaiting_purge_confirmation') {
      return { status: found.status };
    }

    const [client, release] = (await (this.dataSource.driver as PostgresDriver).obtainMasterConnection()) as [
      PoolClient,
      (err?: unknown) => void,
    ];
    let broken: unknown;
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
        [BUILD_LOCK_NAMESPACE, exportId],
      );
      if (!rows[0].locked) throw new ExportBusyError(`export ${exportId} is being built by another worker`);
      try {
        const status = await this.buildLocked(client, exportId);
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [BUILD_LOCK_NAMESPACE, exportId]);
        return { status };
      } catch (error) {
        // The connection may be inside an aborted COPY: release it broken, which also drops the session lock.
        broken = error;
        throw error;
      }
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
    } finally {
      release(broken);
    }
  }

  /** Under the build lock: (re)build the file unless it is already complete, purge if asked, mark ready. */
  private async buildLocked(client: PoolClient, exportId: string): Promise<string> {
    const repository = this.dataSource.getRepository(CardExport);
    let record = await repository.findOneByOrFail({ id: exportId });
    if (record.status !== 'pending' && record.status !== 'running') return record.status;
    await this.assertKeyConfirmed(record);
    if (record.status === 'pending') {
      await repository.update({ id: exportId, status: 'pending' }, { status: 'running' });
    }
    if (!(await this.fileComplete(record))) {
      const manifest = await this.writeFile(client, record);
      await repository.update(
        { id: exportId },
        {
          rowCount: manifest.rowCount,
          plaintextSha256: manifest.plaintextSha256,
          sizeBytes: String(manifest.sizeBytes),
          storagePath: this.storage.relativePathOf(exportId),
        },
      );
      record = await repository.findOneByOrFail({ id: exportId });
    }
    const purged = record.purgeAfterExport ? await this.purgeAnonymous(record) : null;

    const ctx = RequestContext.system();
    return this.transactions.run(ctx, async (manager) => {
      const result = await manager.update(
        CardExport,
        { id: exportId, status: 'running' },
        { status: 'ready', completedAt: new Date() },
      );
      if (!result.affected) return (await manager.findOneByOrFail(CardExport, { id: exportId })).status;
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
      this.logger.log({ msg: 'export ready', exportId, orderId: record.orderId, rows: record.rowCount });
      return 'ready';
    });
  }

  /** A key revoked after the request stops builds not finished yet: nothing more is encrypted to it. */
  private async assertKeyConfirmed(record: CardExport): Promise<void> {
    if (!record.exportKeyId) return;
    const key = await this.dataSource.getRepository(ExportKey).findOneBy({ id: record.exportKeyId });
    if (key?.status !== 'confirmed') {
      throw new ExportBuildError('export_key_revoked', `export key ${record.exportKeyId} is no longer confirmed`);
    }
  }

  /** Whether the file recorded for this export exists with the recorded size (then it was renamed complete). */
  private async fileComplete(record: CardExport): Promise<boolean> {
    if (!record.storagePath || record.sizeBytes === null) return false;
    try {
      return (await stat(this.storage.absolute(record.storagePath))).size === Number(record.sizeBytes);
    } catch {
      return false;
    }
  }

  /**
   * Streams the order's cards through decryption into the encrypted file. The COPY runs in its own read-only
   * transaction with UTC and ISO dates, so the timestamps it prints do not depend on server settings.
   */
  private async writeFile(client: PoolClient, record: CardExport): Promise<ExportFileResult> {
    const recipient = await storedRecipientKey(record.encryption);
    await this.storage.ensureDirectory();
    await client.query('BEGIN READ ONLY');
    await client.query("SET LOCAL TimeZone = 'UTC'");
    await client.query("SET LOCAL DateStyle = 'ISO, YMD'");
    const [{ cards }] = await client
      .query<{ cards: string }>(
        'SELECT COALESCE(SUM(issued_count), 0)::text AS cards FROM issuance_batches WHERE order_id = $1',
        [record.orderId],
      )
      .then((result) => result.rows);
    const converter = chunkConverterFor({
      expectedRows: Number(cards),
      open: (serial, envelope) => this.secrets.open(serial, envelope),
      keys: this.config,
    });
    const started = process.hrtime.bigint();
    let result: ExportFileResult;
    try {
      result = await writeExportFile({
        copy: client.query(copyTo(exportCopySql(record.orderId))),
        converter,
        recipient,
        path: this.storage.absolute(this.storage.relativePathOf(record.id)),
        literalName: exportLiteralName(record),
        date: record.createdAt,
      });
    } finally {
      await converter.close();
    }
    await client.query('COMMIT');
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
    const batches = await this.dataSource.query<Array<{ id: string }>>(
      "SELECT id FROM issuance_batches WHERE order_id = $1 AND card_type = 'anonymous'",
      [record.orderId],
    );
    const batchIds = batches.map((batch) => batch.id);
    let purged = 0;
    if (batchIds.length > 0) {
      for (let after = '0'; ;) {
        const [step] = await this.dataSource.query<Array<{ last: string | null; purged: number }>>(
          `WITH chunk AS (
             SELECT serial FROM cards WHERE order_id = $1 AND serial > $2::bigint ORDER BY serial LIMIT $4
           ), cleared AS (
             UPDATE cards SET secret_ciphertext = NULL
              WHERE serial IN (SELECT serial FROM chunk) AND batch_id = ANY($3::text[]) AND secret_ciphertext IS NOT NULL
             RETURNING 1
           )
           SELECT (SELECT max(serial) FROM chunk)::text AS last, (SELECT count(*) FROM cleared)::int AS purged`,
          [record.orderId, after, batchIds, PURGE_BATCH],
        );
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
    const leftover = await this.transactions.run(ctx, async (manager) => {
      const record = await manager.findOneBy(CardExport, { id: exportId });
      if (!record || (record.status !== 'pending' && record.status !== 'running')) return null;
      await manager.update(
        CardExport,
        { id: exportId },
        { status: 'failed', failureReason: reason.slice(0, 500), completedAt: new Date(), storagePath: null },
      );
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
}
