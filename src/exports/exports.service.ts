import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { ExportKeysService } from '../export-keys/export-keys.service';
import { assertSecondApprover } from '../export-keys/second-approval';
import type { CardExport } from '../issuance/card-export.entity';
import { OrderLifecycleHooks } from '../orders/order-lifecycle-hooks';
import { OrdersRepository } from '../orders/orders.repository';
import { JobName, QueueName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { CardExportDto, type ExportDownloadDto } from './dto/card-export.dto';
import type { CreateExportDto } from './dto/create-export.dto';
import type { ListExportsQueryDto } from './dto/list-exports.dto';
import type { Page } from '../common/pagination/pagination';
import {
  DOWNLOAD_LINK_TTL_MS,
  EXPORT_CONTENT_TYPE,
  EXPORTABLE_ORDER_STATUSES,
  exportFileName,
  exportState,
} from './export-policy';
import { ExportStorage } from './export-storage';
import { ExportsRepository } from './exports.repository';
import { readRecipientKey } from '../export-keys/recipient-key';

/** A pending or running export whose job is missing or failed this long after creation is enqueued again. */
const RELAY_AFTER_MS = 60_000;

const FILE_GONE = 'The export file is no longer available; request a new export';

const sha256 = (token: string) => createHash('sha256').update(token, 'latin1').digest();

const gone = (code: 'export_link_used' | 'export_link_expired', detail: string) => new ApiError(410, code, detail);

/** An opened download: the caller streams `stream` and reports the outcome once with `finish`. */
export interface ExportDownload {
  /** The file; null for a HEAD request (nothing claimed, nothing to stream). */
  stream: Readable | null;
  sizeBytes: number;
  fileName: string;
  contentType: string;
  /** `complete`: every byte was handed to the client (the response finished); false: it was interrupted. */
  finish(complete: boolean): Promise<void>;
}

/**
 * Card-secrets exports (scope cards:secrets): requesting one (to a registered, confirmed export key), the second
 * party's confirmation of a purge, reading its status and manifest with a one-time download link, and the
 * download itself. Building the file is ExportBuilder's job. Every step that exposes
 * or moves secrets is in the audit chain: requested, link issued, download started, downloaded (or
 * interrupted), purge confirmed, purge, file deleted.
 *
 * Links: only the SHA-256 of a token is stored, so a token is shown once, by the GET that issues it. Each GET
 * of a ready export therefore issues a fresh token valid DOWNLOAD_LINK_TTL_MS and revokes the previous one.
 * A download claims the link before the first byte (so two concurrent downloads cannot both stream); when the
 * response completes the file is deleted and the link is used up (410 export_link_used), when it is cut off
 * the claim is released and the same link may be retried until it expires (410 export_link_expired).
 */
@Injectable()
export class ExportsService {
  private readonly logger = new Logger(ExportsService.name);

  constructor(
    private readonly exports: ExportsRepository,
    private readonly orders: OrdersRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    private readonly queues: QueueService,
    private readonly storage: ExportStorage,
    private readonly config: AppConfig,
    private readonly exportKeys: ExportKeysService,
    private readonly hooks: OrderLifecycleHooks,
  ) {}

  async create(ctx: RequestContext, orderId: string, dto: CreateExportDto): Promise<CardExportDto> {
    const enterpriseId = ctx.enterpriseId;
    if (dto.export_key_id === undefined || dto.recipient_public_key !== undefined) {
      throw ApiError.unprocessable(
        'export_key_required',
        'Name a registered, confirmed key in export_key_id: register it with POST /v1/export-keys, have the ' +
          'operator or another client with orders:approve confirm it, then export to it (a key in the request is ' +
          'not accepted)',
      );
    }
    const exportKeyId = dto.export_key_id;
    const purge = dto.purge_anonymous_after_export ?? false;
    return this.transactions.run(ctx, async () => {
      // Locked: concurrent export requests of one order are serialised, so the checks below hold.
      const order = isId('order', orderId) ? await this.orders.lock(ctx, orderId, enterpriseId) : null;
      if (!order) throw ApiError.notFound('order', orderId);
      if (!(EXPORTABLE_ORDER_STATUSES as readonly string[]).includes(order.status)) {
        throw ApiError.conflict(
          'invalid_state',
          `Order '${orderId}' is ${order.status}: cards can be exported once the order is issued`,
          { order_id: orderId, order_status: order.status },
        );
      }
      const key = await this.exportKeys.usableKey(ctx, enterpriseId, exportKeyId);
      // Read again now: the key may have expired or been revoked (by its owner) since it was registered.
      const { encryption } = await readRecipientKey(key.publicKey, 'the export key');
      await this.assertExportable(ctx, orderId);
      const record: CardExport = {
        id: newId('export'),
        orderId,
        enterpriseId,
        requestedByClientId: ctx.clientId!,
        // A purge destroys the tenant's own copy of the codes: nothing happens until a second party confirms it.
        status: purge ? 'awaiting_purge_confirmation' : 'pending',
        exportKeyId: key.id,
        encryption: { ...encryption },
        rowCount: null,
        plaintextSha256: null,
        sizeBytes: null,
        storagePath: null,
        downloadTokenHash: null,
        downloadExpiresAt: null,
        downloadedAt: null,
        purgeAfterExport: purge,
        purgeConfirmedByClientId: null,
        purgeConfirmedAt: null,
        failureReason: null,
        createdAt: new Date(),
        completedAt: null,
      };
      await this.exports.insert(ctx, record);
      await this.audit.record(ctx, {
        action: 'card_export.requested',
        objectType: 'card_export',
        objectId: record.id,
        enterpriseId,
        summary: {
          order_id: orderId,
          export_key_id: key.id,
          recipient_fingerprint: encryption.recipient_fingerprint,
          purge_anonymous_after_export: record.purgeAfterExport,
        },
      });
      if (!purge) await this.transactions.afterCommit(ctx, () => this.enqueue(record.id));
      return CardExportDto.from(record, new Date());
    });
  }

  /**
   * The second party's go-ahead for a purging export (the operator, or another client of the enterprise with
   * orders:approve than the requester): the export is built, then the anonymous codes purged.
   */
  async confirmPurge(ctx: RequestContext, id: string): Promise<CardExportDto> {
    return this.transactions.run(ctx, async () => {
      const found = isId('export', id)
        ? await this.exports.find(ctx, ctx.isOperator ? { id } : { id, enterpriseId: ctx.enterpriseId })
        : null;
      if (!found) throw ApiError.notFound('export', id);
      // The order first, then the export: the lock order of create(), so the two cannot deadlock.
      await this.orders.lock(ctx, found.orderId);
      const record = await this.exports.find(ctx, { id }, { lock: true });
      if (!record) throw ApiError.notFound('export', id);
      assertSecondApprover(ctx, record.enterpriseId, record.requestedByClientId, () => ApiError.notFound('export', id));
      if (record.status !== 'awaiting_purge_confirmation') {
        throw ApiError.conflict(
          'invalid_state',
          `Export '${id}' is ${record.status}: it awaits no purge confirmation`,
          {
            export_id: id,
            status: record.status,
          },
        );
      }
      if (record.exportKeyId) await this.exportKeys.usableKey(ctx, record.enterpriseId, record.exportKeyId);
      await this.assertExportable(ctx, record.orderId);
      const confirmed = {
        status: 'pending' as const,
        purgeConfirmedByClientId: ctx.clientId,
        purgeConfirmedAt: new Date(),
      };
      Object.assign(record, confirmed);
      await this.exports.update(ctx, id, confirmed);
      await this.audit.record(ctx, {
        action: 'card_export.purge_confirmed',
        objectType: 'card_export',
        objectId: id,
        enterpriseId: record.enterpriseId,
        summary: { order_id: record.orderId, requested_by_client_id: record.requestedByClientId },
      });
      await this.transactions.afterCommit(ctx, () => this.enqueue(id));
      return CardExportDto.from(record, new Date());
    });
  }

  /**
   * 409 when the order's codes are (being) purged, another export of it is being built, or another module refuses
   * (distribution: 409 order_distributed, its cards are handed to employees who alone see the codes). Order row locked.
   */
  private async assertExportable(ctx: RequestContext, orderId: string): Promise<void> {
    await this.hooks.beforeExport(ctx, orderId);
    if (await this.exports.purgingExportExists(ctx, orderId)) {
      throw ApiError.conflict(
        'card_secrets_purged',
        `An export of order '${orderId}' purges (or purged) its anonymous cards' codes: they cannot be exported again`,
        { order_id: orderId },
      );
    }
    // One build per order at a time: each costs seconds of CPU per million cards and a file of ~70 MB.
    const building = await this.exports.exportInProgress(ctx, orderId);
    if (building) {
      throw ApiError.conflict(
        'export_in_progress',
        `Export '${building}' of order '${orderId}' is being built; wait for it to be ready`,
        { export_id: building },
      );
    }
  }

  /**
   * The enterprise's exports, newest first: status and manifest, never a download link (a link is issued by
   * `get` alone, which revokes the previous one: a list must not).
   */
  async list(ctx: RequestContext, query: ListExportsQueryDto): Promise<Page<CardExportDto>> {
    const page = await this.exports.list(
      ctx,
      {
        enterpriseId: ctx.enterpriseId,
        orderId: query.order_id,
        createdGte: query.created_gte,
        createdLt: query.created_lt,
      },
      query,
    );
    const now = new Date();
    return { ...page, data: page.data.map((record) => CardExportDto.from(record, now)) };
  }

  /** Status and manifest; while ready, a fresh one-time download link (see the class comment). */
  async get(ctx: RequestContext, id: string): Promise<CardExportDto> {
    const enterpriseId = ctx.enterpriseId;
    const record = isId('export', id) ? await this.exports.find(ctx, { id, enterpriseId }) : null;
    if (!record) throw ApiError.notFound('export', id);
    const now = new Date();
    if (record.status === 'pending' || record.status === 'running') {
      await this.relay(record, now);
      return CardExportDto.from(record, now);
    }
    const state = exportState(record, now);
    if (state === 'expired' && record.storagePath) {
      // Past its retention but not swept yet (sweeps run before builds): delete it now, in the background.
      this.storage.sweep().catch((err: unknown) => this.logger.warn({ msg: 'export file sweep failed', err }));
    }
    if (state !== 'ready') return CardExportDto.from(record, now);

    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + DOWNLOAD_LINK_TTL_MS);
    const issued = await this.transactions.run(ctx, async () => {
      if (!(await this.exports.issueLink(ctx, id, sha256(token).toString('hex'), expiresAt))) return false;
      await this.audit.record(ctx, {
        action: 'card_export.link_issued',
        objectType: 'card_export',
        objectId: id,
        enterpriseId,
        summary: { order_id: record.orderId, link_expires_at: expiresAt.toISOString() },
      });
      return true;
    });
    if (!issued) {
      // Downloaded or deleted between the read and the update: show what it is now.
      const now = await this.exports.find(ctx, { id });
      if (!now) throw ApiError.notFound('export', id);
      return CardExportDto.from(now, new Date());
    }
    const download: ExportDownloadDto = {
      url: `${this.config.publicUrl.replace(/\/+$/, '')}/v1/exports/${id}/download?token=${token}`,
      token,
      expires_at: expiresAt.toISOString(),
    };
    return CardExportDto.from(
      { ...record, downloadTokenHash: sha256(token).toString('hex'), downloadExpiresAt: expiresAt },
      now,
      download,
    );
  }

  /**
   * Checks a download link and, unless `claim` is false (HEAD), claims it and opens the file. 404 for an
   * unknown export or a token that is not the current one (no oracle), 410 when used or expired.
   */
  async openDownload(ctx: RequestContext, id: string, token: string, claim = true): Promise<ExportDownload> {
    const now = new Date();
    const { record, claimedAt } = await this.transactions.run(ctx, async () => {
      const found = isId('export', id) ? await this.exports.find(ctx, { id }, { lock: true }) : null;
      const expected = found?.downloadTokenHash ? Buffer.from(found.downloadTokenHash, 'hex') : null;
      if (!found || !expected || expected.length !== 32 || !timingSafeEqual(expected, sha256(token))) {
        throw ApiError.notFound('export download', id);
      }
      if (found.downloadedAt) {
        throw gone('export_link_used', 'This download link was used already; request a new export');
      }
      const state = exportState(found, now);
      if (state !== 'ready') throw gone('export_link_expired', FILE_GONE);
      if (!found.downloadExpiresAt || found.downloadExpiresAt <= now) {
        throw gone('export_link_expired', 'This download link has expired; GET the export again for a new one');
      }
      if (!claim) return { record: found, claimedAt: null };
      const claimed = new Date();
      await this.exports.update(ctx, id, { downloadedAt: claimed });
      await this.audit.record(ctx, {
        action: 'card_export.download_started',
        objectType: 'card_export',
        objectId: id,
        enterpriseId: found.enterpriseId,
        summary: { order_id: found.orderId, size_bytes: Number(found.sizeBytes), ip: ctx.ip },
      });
      return { record: found, claimedAt: claimed };
    });
    // HEAD reads only what is stored about the file; a download opens a stream of it.
    const file = claimedAt
      ? await this.storage.read(record.storagePath!)
      : await this.storage.stat(record.storagePath!).then((info) => (info ? { info, stream: null } : null));
    if (!file) {
      if (claimedAt) await this.finishDownload(ctx, record, claimedAt, false, 0);
      throw gone('export_link_expired', FILE_GONE);
    }
    const sizeBytes = file.info.sizeBytes;
    const base = { sizeBytes, fileName: exportFileName(record), contentType: EXPORT_CONTENT_TYPE };
    if (!claimedAt || !file.stream) return { ...base, stream: null, finish: async () => undefined };
    let finished = false;
    return {
      ...base,
      stream: file.stream,
      finish: async (complete) => {
        if (finished) return;
        finished = true;
        await this.finishDownload(ctx, record, claimedAt, complete, sizeBytes);
      },
    };
  }

  /** After the response: a complete download deletes the file; an interrupted one releases the claim. */
  private async finishDownload(
    ctx: RequestContext,
    record: CardExport,
    claimedAt: Date,
    complete: boolean,
    sizeBytes: number,
  ): Promise<void> {
    const storagePath = record.storagePath!;
    try {
      await this.transactions.run(ctx, async () => {
        if (!(await this.exports.finishDownload(ctx, record.id, claimedAt, complete))) return;
        await this.audit.record(ctx, {
          action: complete ? 'card_export.downloaded' : 'card_export.download_interrupted',
          objectType: 'card_export',
          objectId: record.id,
          enterpriseId: record.enterpriseId,
          summary: { order_id: record.orderId, size_bytes: sizeBytes, ip: ctx.ip },
        });
      });
      if (complete) await this.storage.remove(storagePath);
    } catch (err) {
      // The client has its answer; the sweep deletes a claimed file a day later at the latest.
      this.logger.error({ msg: 'recording the end of an export download failed', exportId: record.id, complete, err });
    }
  }

  /**
   * The relay from committed state to the queue: the job is enqueued after commit, so a crash in between (or a
   * job that gave up while another worker held the build lock) would leave the export waiting forever. A read
   * of an export that waits too long enqueues it again (a no-op while its job exists) or retries its failed job.
   */
  private async relay(record: CardExport, now: Date): Promise<void> {
    if (now.getTime() - record.createdAt.getTime() < RELAY_AFTER_MS) return;
    try {
      const job = await this.queues.queue(QueueName.Exports).getJob(record.id);
      if (!job) await this.enqueue(record.id);
      else if (await job.isFailed()) await job.retry('failed', { resetAttemptsMade: true });
    } catch (err) {
      this.logger.warn({ msg: 'could not re-enqueue an export', exportId: record.id, err });
    }
  }

  private async enqueue(exportId: string): Promise<void> {
    await this.queues.add(JobName.BuildExport, { exportId }, { jobId: exportId });
  }
}
