import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource, EntityManager, MoreThan } from 'typeorm';
import { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { type Page, paginate } from '../common/pagination/pagination';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { OnJob } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { auditData, ChainVerifier, checkpointMac, type ChainFailure, recordMac, sameHex } from './audit-chain';
import { AuditCheckpoint } from './audit-checkpoint.entity';
import { auditKeysFrom, type AuditKeys } from './audit-keys';
import { AuditRecord } from './audit-record.entity';
import { AuditRecordDto } from './dto/audit-record.dto';
import { AuditVerificationDto } from './dto/audit-verification.dto';
import type { ListAuditRecordsQueryDto } from './dto/list-audit-records-query.dto';

export interface AuditEntry {
  /** Dotted verb, e.g. `enterprise.created`. */
  action: string;
  objectType: string;
  objectId: string;
  enterpriseId?: string | null;
  /** Stored only as a SHA-256 digest of its canonical JSON. */
  before?: unknown;
  /** Stored only as a SHA-256 digest of its canonical JSON. */
  after?: unknown;
  /** Stored as given: must hold no secrets. */
  summary?: Record<string, unknown>;
}

/** Records read per query while verifying: the walk never holds the whole table. */
const VERIFY_BATCH = 1000;
const CHECKPOINT_SCHEDULER = 'audit-checkpoint';

/**
 * Appends: one statement moves the head row (audit_chain_head) on and inserts the record linked to it. The row lock
 * taken by that UPDATE is held to the commit, so appenders queue there and seq stays gap-free; under READ
 * COMMITTED an appender that waited re-reads the head that the one before it committed.
 */
const APPEND_SQL = `
WITH head AS (
  UPDATE audit_chain_head SET seq = seq + 1, prev_hash = hash,
    hash = encode(sha256(convert_to(hash || ':' || (seq + 1)::text || ':' || $11, 'UTF8')), 'hex')
  WHERE id = 1
  RETURNING seq, prev_hash, hash)
INSERT INTO audit_records (seq, id, occurred_at, actor_client_id, enterprise_id, action, object_type, object_id,
  request_id, data, key_id, mac, prev_hash, hash)
SELECT head.seq, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, head.prev_hash, head.hash FROM head
RETURNING seq::text AS seq, prev_hash, hash`;

@Injectable()
export class AuditService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AuditService.name);
  private readonly keys: AuditKeys;

  constructor(
    private readonly transactions: TransactionService,
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly queues: QueueService,
  ) {
    this.keys = auditKeysFrom(config);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.queues.isWorker) return;
    await this.queues.upsertScheduler(
      CHECKPOINT_SCHEDULER,
      JobName.CheckpointAudit,
      {},
      { everyMs: this.config.AUDIT_CHECKPOINT_INTERVAL_SECONDS * 1000 },
    );
    // And once now: a worker that starts anchors the chain as it finds it, without waiting an interval.
    await this.queues.add(JobName.CheckpointAudit, {});
  }

  /**
   * Appends a record inside the context's transaction, so it commits or rolls back
   * with the change it describes. The head row stays locked until that transaction ends:
   * call this as the last write of a transaction to keep the serialised part short.
   */
  async record(ctx: RequestContext, entry: AuditEntry): Promise<AuditRecord> {
    return this.transactions.run(ctx, (manager) => this.append(manager, ctx, entry));
  }

  /**
   * The same, in the caller's transaction `manager`: one statement (the redemption hot path calls it). The actor is
   * the context's API client (null: the system, a scheduled job).
   */
  async append(manager: EntityManager, ctx: RequestContext, entry: AuditEntry): Promise<AuditRecord> {
    const { id: keyId, key } = this.keys.signing;
    const record = manager.create(AuditRecord, {
      id: newId('audit'),
      occurredAt: new Date(),
      actorClientId: ctx.clientId,
      enterpriseId: entry.enterpriseId ?? null,
      action: entry.action,
      objectType: entry.objectType,
      objectId: entry.objectId,
      requestId: ctx.requestId,
      data: auditData(entry.before, entry.after, entry.summary),
      keyId,
    });
    record.mac = recordMac(key, { ...record, keyId });
    const [linked] = await manager.query<Array<{ seq: string; prev_hash: string; hash: string }>>(APPEND_SQL, [
      record.id,
      record.occurredAt,
      record.actorClientId,
      record.enterpriseId,
      record.action,
      record.objectType,
      record.objectId,
      record.requestId,
      record.data,
      keyId,
      record.mac,
    ]);
    if (!linked) throw new Error('audit_chain_head is missing: run the migrations');
    return Object.assign(record, { seq: Number(linked.seq), prevHash: linked.prev_hash, hash: linked.hash });
  }

  /**
   * Walks the whole chain in seq order, a batch at a time, and reports the first break; then checks every
   * checkpoint: signed by a known key, and naming a record that is still there with the same hash (a checkpoint
   * past the end of the chain means its tail was deleted).
   */
  async verify(ctx: RequestContext): Promise<AuditVerificationDto> {
    const manager = this.reader(ctx);
    const verifier = new ChainVerifier(this.keys.byId);
    await this.walk(manager, verifier, 0);
    const checkpoints = verifier.firstFailure ? { checked: 0, failure: null } : await this.checkCheckpoints(manager);
    const failure = verifier.firstFailure ?? checkpoints.failure;
    return {
      object: 'audit_verification',
      ok: failure === null,
      records_checked: verifier.recordsChecked,
      checkpoints_checked: checkpoints.checked,
      head: failure === null ? verifier.head : null,
      first_failure: failure,
    };
  }

  /**
   * The scheduled anchor: verifies the records appended since the newest checkpoint (from that checkpoint's hash
   * on), and when they are intact signs a checkpoint of the head and logs it, for a copy outside the database.
   * A broken chain is logged as an error and gets no checkpoint.
   */
  async checkpoint(ctx: RequestContext): Promise<{ seq: number; hash: string } | null> {
    return this.transactions.run(ctx, async (manager) => {
      const [last] = await manager.find(AuditCheckpoint, { order: { id: 'DESC' }, take: 1 });
      if (last) {
        const anchored = await this.checkCheckpoint(manager, last);
        if (anchored) {
          this.logger.error({ msg: 'audit chain does not match its newest checkpoint', ...anchored });
          return null;
        }
      }
      const verifier = new ChainVerifier(this.keys.byId, last ? { seq: last.seq, hash: last.hash } : undefined);
      await this.walk(manager, verifier, last?.seq ?? 0);
      if (verifier.firstFailure) {
        this.logger.error({ msg: 'audit chain broken: no checkpoint signed', failure: verifier.firstFailure });
        return null;
      }
      const head = verifier.head;
      if (!head || head.seq === last?.seq) return head;
      const { id: keyId, key } = this.keys.signing;
      const createdAt = new Date();
      await manager.insert(AuditCheckpoint, {
        seq: head.seq,
        hash: head.hash,
        keyId,
        mac: checkpointMac(key, { ...head, createdAt, keyId }),
        createdAt,
      });
      this.logger.log({ msg: 'audit chain checkpoint', seq: head.seq, hash: head.hash });
      return head;
    });
  }

  @OnJob(JobName.CheckpointAudit)
  async checkpointJob(): Promise<{ seq: number; hash: string } | null> {
    return this.checkpoint(RequestContext.system());
  }

  async list(ctx: RequestContext, query: ListAuditRecordsQueryDto): Promise<Page<AuditRecordDto>> {
    const builder = this.reader(ctx).createQueryBuilder(AuditRecord, 'record');
    if (query.object_id) builder.andWhere('record.objectId = :objectId', { objectId: query.object_id });
    if (query.action) builder.andWhere('record.action = :action', { action: query.action });
    if (query.enterprise_id)
      builder.andWhere('record.enterpriseId = :enterpriseId', { enterpriseId: query.enterprise_id });
    return paginate(builder, query, AuditRecordDto.from);
  }

  /** Feeds the records after seq `after` to the verifier, a batch at a time, until the end or the first break. */
  private async walk(manager: EntityManager, verifier: ChainVerifier, after: number): Promise<void> {
    for (;;) {
      const batch = await manager.find(AuditRecord, {
        where: { seq: MoreThan(after) },
        order: { seq: 'ASC' },
        take: VERIFY_BATCH,
      });
      if (!batch.every((record) => verifier.check(record))) return;
      if (batch.length < VERIFY_BATCH) return;
      after = batch[batch.length - 1].seq;
    }
  }

  /** Every checkpoint with its record, joined a batch at a time (one query per batch, not per checkpoint). */
  private async checkCheckpoints(manager: EntityManager): Promise<{ checked: number; failure: ChainFailure | null }> {
    let checked = 0;
    let after = '0';
    for (;;) {
      const rows = await manager.query<
        Array<{
          id: string;
          seq: string;
          hash: string;
          key_id: string;
          mac: string;
          created_at: Date;
          record_id: string | null;
          record_hash: string | null;
        }>
      >(
        `SELECT c.id::text AS id, c.seq::text AS seq, c.hash, c.key_id, c.mac, c.created_at,
                r.id AS record_id, r.hash AS record_hash
         FROM audit_checkpoints c LEFT JOIN audit_records r ON r.seq = c.seq
         WHERE c.id > $1 ORDER BY c.id LIMIT $2`,
        [after, VERIFY_BATCH],
      );
      for (const row of rows) {
        checked++;
        const checkpoint = {
          seq: Number(row.seq),
          hash: row.hash,
          keyId: row.key_id,
          mac: row.mac,
          createdAt: row.created_at,
        };
        const record = row.record_id === null ? null : { id: row.record_id, hash: row.record_hash! };
        const failure = this.checkpointFailure(checkpoint, record);
        if (failure) return { checked, failure };
      }
      if (rows.length < VERIFY_BATCH) return { checked, failure: null };
      after = rows[rows.length - 1].id;
    }
  }

  /** The newest checkpoint against its record, read now. */
  private async checkCheckpoint(manager: EntityManager, checkpoint: AuditCheckpoint): Promise<ChainFailure | null> {
    const record = await manager.findOne(AuditRecord, {
      where: { seq: checkpoint.seq },
      select: { seq: true, id: true, hash: true },
    });
    return this.checkpointFailure(checkpoint, record);
  }

  /** Null when the checkpoint is signed by a known key and its record is there with its hash. */
  private checkpointFailure(
    checkpoint: Pick<AuditCheckpoint, 'seq' | 'hash' | 'keyId' | 'mac' | 'createdAt'>,
    record: { id: string; hash: string } | null,
  ): ChainFailure | null {
    const key = this.keys.byId.get(checkpoint.keyId);
    if (!key) return { seq: checkpoint.seq, id: null, reason: 'unknown_key' };
    if (!sameHex(checkpoint.mac, checkpointMac(key, checkpoint))) {
      return { seq: checkpoint.seq, id: null, reason: 'checkpoint_mismatch' };
    }
    if (!record) return { seq: checkpoint.seq, id: null, reason: 'truncated' };
    if (record.hash !== checkpoint.hash) return { seq: checkpoint.seq, id: record.id, reason: 'checkpoint_mismatch' };
    return null;
  }

  /** Reads join the request's open transaction, so they see its own uncommitted writes. */
  private reader(ctx: RequestContext): EntityManager {
    return ctx.transaction?.manager ?? this.dataSource.manager;
  }
}
