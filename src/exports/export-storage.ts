import type { Readable } from 'node:stream';
import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { TransactionService } from '../database/transaction.service';
import { FileStorage, type StoredFileInfo } from '../storage/file-storage';
import { EXPORT_FILE_RETENTION_MS } from './export-policy';
import { ExportsRepository } from './exports.repository';

/** Files deleted per sweep: a sweep runs often (before every build, on reads) and must stay short. */
const SWEEP_LIMIT = 100;
/** A claimed download that never completed nor failed (its process died) keeps its file this long. */
const STALE_DOWNLOAD_MS = 24 * 3_600_000;

/**
 * Export files in the file store every process sees (FileStorage: PostgreSQL), under the key
 * `exports/<export id>.pgp`, which card_exports.storage_path records; and their deletion once nobody will
 * download them.
 */
@Injectable()
export class ExportStorage {
  private readonly logger = new Logger(ExportStorage.name);

  constructor(
    private readonly files: FileStorage,
    private readonly exports: ExportsRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
  ) {}

  /** The store key of an export's file. */
  keyOf(exportId: string): string {
    return `exports/${exportId}.pgp`;
  }

  /**
   * Stores the export's encrypted file as it streams in. The store deletes it by itself after the export's retention
   * (counted from when it is ready, a little later) and a day's margin: the audited sweep below normally comes first.
   */
  write(exportId: string, encrypted: AsyncIterable<Uint8Array>): Promise<StoredFileInfo> {
    const expiresAt = new Date(Date.now() + EXPORT_FILE_RETENTION_MS + 24 * 3_600_000);
    return this.files.write(this.keyOf(exportId), encrypted, { expiresAt });
  }

  stat(key: string): Promise<StoredFileInfo | null> {
    return this.files.stat(key);
  }

  read(key: string): Promise<{ info: StoredFileInfo; stream: Readable } | null> {
    return this.files.read(key);
  }

  async remove(key: string): Promise<void> {
    await this.files.remove(key);
  }

  /**
   * Deletes files nobody will download any more: built longer ago than the retention, or claimed by a download
   * whose process died mid-way a day ago. Each deletion is audited (an unread file of a purged order was the
   * last copy of its codes). Safe to run anywhere, any time, concurrently: each row is cleared conditionally.
   */
  async sweep(): Promise<number> {
    const stale = await this.exports.staleFiles(
      RequestContext.system(),
      new Date(Date.now() - EXPORT_FILE_RETENTION_MS),
      new Date(Date.now() - STALE_DOWNLOAD_MS),
      SWEEP_LIMIT,
    );
    let removed = 0;
    for (const { id, storagePath: path } of stale) {
      const ctx = RequestContext.system();
      const cleared = await this.transactions.run(ctx, async () => {
        const record = await this.exports.clearFile(ctx, id, path);
        if (!record) return false;
        await this.audit.record(ctx, {
          action: 'card_export.file_deleted',
          objectType: 'card_export',
          objectId: id,
          enterpriseId: record.enterpriseId,
          summary: { order_id: record.orderId, downloaded: record.downloaded, reason: 'retention' },
        });
        return true;
      });
      if (!cleared) continue;
      await this.remove(path);
      removed++;
    }
    if (removed > 0) this.logger.log({ msg: 'deleted expired export files', removed });
    return removed;
  }
}
