import { mkdir, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { EXPORT_FILE_RETENTION_MS } from './export-policy';
import { ExportsRepository } from './exports.repository';

/** Files deleted per sweep: a sweep runs often (before every build, on reads) and must stay short. */
const SWEEP_LIMIT = 100;
/** A claimed download that never completed nor failed (its process died) keeps its file this long. */
const STALE_DOWNLOAD_MS = 24 * 3_600_000;

/**
 * Where export files live: `DATA_DIR/exports/<export id>.pgp`, mode 0600 in a 0700 directory. Every process
 * that builds or serves exports must see the same directory (one machine, or a shared volume). The database
 * stores the path relative to DATA_DIR.
 */
@Injectable()
export class ExportStorage {
  private readonly logger = new Logger(ExportStorage.name);
  private readonly root: string;

  constructor(
    config: AppConfig,
    private readonly exports: ExportsRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
  ) {
    this.root = config.dataDir;
  }

  /** Relative path of an export's file. */
  relativePathOf(exportId: string): string {
    return join('exports', `${exportId}.pgp`);
  }

  /** Absolute path of a stored relative path; refuses anything that would leave DATA_DIR/exports. */
  absolute(relativePath: string): string {
    const dir = resolve(this.root, 'exports');
    const path = resolve(this.root, relativePath);
    if (!path.startsWith(dir + sep)) throw new Error('export storage path outside DATA_DIR/exports');
    return path;
  }

  async ensureDirectory(): Promise<void> {
    await mkdir(resolve(this.root, 'exports'), { recursive: true, mode: 0o700 });
  }

  async remove(relativePath: string): Promise<void> {
    await rm(this.absolute(relativePath), { force: true });
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
