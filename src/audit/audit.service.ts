import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource, EntityManager, MoreThan } from 'typeorm';
import { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { type Page, paginate } from '../common/pagination/pagination';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { TransactionalConnection } from '../database/transactional-connection';
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

/** Records sealed per statement; a seal loops until nothing it can see is pending. */
export const SEAL_BATCH = 1000;

/**
 * Appends take no lock: a record goes into audit_pending in its change's transaction (one INSERT), and `seal`
 * links pending records into the chain in a short transaction of its own, under the head row's lock, once that
 * transaction has committed. Holding the head's lock in every change's transaction until its commit made every
 * audited change (each redemption debit) wait for the one before it.
 */
const APPEND_SQL = `
INSERT INTO audit_pending (id, occurred_at, actor_client_id, enterprise_id, action, object_type, object_id,
  request_id, data, key_id, mac)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;

/**
 * One batch: takes the oldest pending records, links each to the one before (the head first), inserts them into
 * the chain, removes them from audit_pending and moves the head, in one statement under the head row's lock (taken
 * by the caller). The links are computed in SQL by a recursive walk, the same SHA-256 of `prev_hash:seq:mac` as
 * linkHash (src/audit/audit-chain.ts).
 */
export const SEAL_SQL = `
WITH RECURSIVE batch AS (
  SELECT row_number() OVER (ORDER BY pending_no) AS n, p.* FROM audit_pending p ORDER BY pending_no LIMIT $1),
chain AS (
  SELECT b.n, h.seq + 1 AS seq, h.hash::text AS prev_hash,
         encode(sha256(convert_to(h.hash || ':' || (h.seq + 1)::text || ':' || b.mac, 'UTF8')), 'hex') AS hash
  FROM batch b, audit_chain_head h WHERE b.n = 1 AND h.id = 1
  UNION ALL
  SELECT b.n, c.seq + 1, c.hash,
         encode(sha256(convert_to(c.hash || ':' || (c.seq + 1)::text || ':' || b.mac, 'UTF8')), 'hex')
  FROM chain c JOIN batch b ON b.n = c.n + 1),
sealed AS (
  INSERT INTO audit_records (seq, id, occurred_at, actor_client_id, enterprise_id, action, object_type, object_id,
    request_id, data, key_id, mac, prev_hash, hash)
  SELECT c.seq, b.id, b.occurred_at, b.actor_client_id, b.enterprise_id, b.action, b.object_type, b.object_id,
         b.request_id, b.data, b.key_id, b.mac, c.prev_hash, c.hash
  FROM chain c JOIN batch b USING (n)
  RETURNING seq, prev_hash, hash),
removed AS (DELETE FROM audit_pending WHERE pending_no IN (SELECT pending_no FROM batch)),
last AS (SELECT seq, prev_hash, hash FROM sealed ORDER BY seq DESC LIMIT 1),
moved AS (
  UPDATE audit_chain_head h SET seq = last.seq, prev_hash = last.prev_hash, hash = last.hash FROM last WHERE h.id = 1)
SELECT count(*)::int AS sealed FROM sealed`;

@Injectable()
export class AuditService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AuditService.name);
  private readonly keys: AuditKeys;

  constructor(
    private readonly transactions: TransactionService,
    private readonly dataSource: DataSource,
    private readonly connection: TransactionalConnection,
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
   * Appends a record inside the context's transaction, so it commits or rolls back with the change it describes;
   * it is sealed into the chain once that transaction has committed.
   */
  async record(ctx: RequestContext, entry: AuditEntry): Promise<void> {
    return this.transactions.run(ctx, () => this.append(ctx, entry));
  }

  /**
   * The same, in the caller's transaction `manager`: one INSERT, no lock (the redemption hot path calls it). The
   * actor is the context's API client (null: the system, a scheduled job). The context's transaction seals it
   * after its commit, before the caller answers; a record written some other way is sealed by the next seal.
   */
  async append(ctx: RequestContext, entry: AuditEntry): Promise<void> {
    const manager = this.connection.transactionManager(ctx, 'AuditService.append');
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
    await manager.query(APPEND_SQL, [
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
    await this.transactions.afterCommit(ctx, () => this.sealThrough(record.id));
  }

  /**
   * Links every pending record into the chain, a batch per statement, under the head row's lock: in short
   * transactions of its own, or in `manager`'s (which then holds the head until it ends, and also seals what it has
   * appended itself). `wait: false` (the reads' catch-up) gives way when another seal holds the head. Returns how
   * many it sealed.
   */
  async seal(manager?: EntityManager, { wait = true } = {}): Promise<number> {
    let total = 0;
    for (;;) {
      const sealed = manager
        ? await this.sealBatch(manager, wait)
        : await this.dataSource.transaction((own) => this.sealBatch(own, wait));
      total += sealed;
      if (sealed < SEAL_BATCH) return total;
    }
  }

  private async sealBatch(manager: EntityManager, wait: boolean): Promise<number> {
    const [head] = await manager.query<unknown[]>(
      `SELECT 1 FROM audit_chain_head WHERE id = 1 FOR UPDATE${wait ? '' : ' SKIP LOCKED'}`,
    );
    if (!head) {
      if (wait) throw new Error('audit_chain_head is missing: run the migrations');
      return 0;
    }
    const [{ sealed }] = await manager.query<Array<{ sealed: number }>>(SEAL_SQL, [SEAL_BATCH]);
    return sealed;
  }

  /** Before a read of the chain: links what is pending, without queueing behind a seal in progress. */
  private catchUp(ctx: RequestContext): Promise<number> {
    return ctx.transaction ? this.seal(ctx.transaction.manager) : this.seal(undefined, { wait: false });
  }

  /**
   * After a commit: seals unless a concurrent seal has taken `id` into the chain already (then nothing waits for the
   * head's lock). Under load one seal links the records of many requests, and the others find theirs done.
   */
  private async sealThrough(id: string): Promise<void> {
    const [pending] = await this.dataSource.query<unknown[]>('SELECT 1 FROM audit_pending WHERE id = $1', [id]);
    if (pending) await this.seal();
  }

  /**
   * Walks the whole chain in seq order, a batch at a time, and reports the first break; then checks every
   * checkpoint: signed by a known key, and naming a record that is still there with the same hash (a checkpoint
   * past the end of the chain means its tail was deleted).
   */
  async verify(ctx: RequestContext): Promise<AuditVerificationDto> {
    await this.catchUp(ctx);
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
    // Also links what a process that stopped between a commit and its seal left pending.
    await this.catchUp(ctx);
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
    // A record is listed once it is in the chain: normally right after its change commits.
    await this.catchUp(ctx);
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
