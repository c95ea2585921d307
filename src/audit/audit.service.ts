import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { CanonicalJsonText } from '../common/canonical-json';
import { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { OnJob } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { auditData, ChainVerifier, checkpointMac, type ChainFailure, recordMac, sameHex } from './audit-chain';
import type { AuditCheckpoint } from './audit-checkpoint.entity';
import { auditKeysFrom, type AuditKeys } from './audit-keys';
import { AuditRepository, pendingRecordSql, SEAL_BATCH, type PendingAuditRecord } from './audit.repository';
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
  /** Stored as given: must hold no secrets. Canonical JSON text when SQL built it (CanonicalJsonText). */
  summary?: Record<string, unknown> | CanonicalJsonText;
}

/** Records read per query while verifying: the walk never holds the whole table. */
const VERIFY_BATCH = 1000;
const CHECKPOINT_SCHEDULER = 'audit-checkpoint';

@Injectable()
export class AuditService implements OnApplicationBootstrap {
  private sealInFlight: Promise<unknown> | null = null;
  private sealQueued: Promise<unknown> | null = null;
  private readonly logger = new Logger(AuditService.name);
  private readonly keys: AuditKeys;

  constructor(
    private readonly transactions: TransactionService,
    private readonly records: AuditRepository,
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
  async record(ctx: RequestContext, entry: AuditEntry): Promise<string> {
    return this.transactions.run(ctx, () => this.append(ctx, entry));
  }

  /**
   * The same, in the transaction the context carries (it must have one): one INSERT, no lock (the redemption hot path calls it). The
   * actor is the context's API client (null: the system, a scheduled job). The context's transaction seals it
   * after its commit, before the caller answers; a record written some other way is sealed by the next seal.
   * Returns the record's id.
   */
  async append(ctx: RequestContext, entry: AuditEntry): Promise<string> {
    const record = this.signed(ctx, entry);
    await this.records.append(ctx, record);
    await this.transactions.afterCommit(ctx, () => this.sealThrough(record.id));
    return record.id;
  }

  /** The summary of the record with this id, sealed or still pending (null: there is none). */
  async summaryOf(ctx: RequestContext, id: string): Promise<unknown> {
    return this.records.summaryOf(ctx, id);
  }

  /** Several records at once (a bulk change described in chunks): one INSERT, one seal after the commit. */
  async appendAll(ctx: RequestContext, entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const records = entries.map((entry) => this.signed(ctx, entry));
    await this.records.appendAll(ctx, records);
    await this.transactions.afterCommit(ctx, () => this.sealThrough(records[records.length - 1].id));
  }

  /**
   * The audit module's fragment of a single-statement hot path (redemption): CTE `<name>` writes the signed pending
   * record of `entry` once per row of `source` (pendingRecordSql). Sends nothing; the caller seals the answered id
   * after its statement commits (sealThrough), as append does.
   */
  appendSql(
    ctx: RequestContext,
    entry: AuditEntry,
    at: { source: string; firstParam: number; name?: string },
  ): { sql: string; params: unknown[]; id: string } {
    return pendingRecordSql(this.signed(ctx, entry), at);
  }

  /** The pending record of `entry`, signed with the current signing key. */
  private signed(ctx: RequestContext, entry: AuditEntry): PendingAuditRecord {
    const { id: keyId, key } = this.keys.signing;
    const fields = {
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
    };
    return { ...fields, mac: recordMac(key, fields) };
  }

  /**
   * Links every pending record into the chain, a batch per statement, under the head row's lock: in short
   * transactions of its own, or in the transaction of `ctx` when one is open (which then holds the head until it
   * ends, and also seals what it has appended itself). `wait: false` (the reads' catch-up) gives way when another
   * seal holds the head. Returns how many it sealed.
   */
  async seal(ctx?: RequestContext, { wait = true } = {}): Promise<number> {
    let total = 0;
    for (;;) {
      const sealed = ctx?.transaction
        ? await this.sealBatch(ctx, wait)
        : await this.records.sealInOwnTransaction(wait, SEAL_BATCH);
      total += sealed;
      if (sealed < SEAL_BATCH) return total;
    }
  }

  private async sealBatch(ctx: RequestContext, wait: boolean): Promise<number> {
    if (!(await this.records.lockHead(ctx, wait))) return 0;
    return this.records.sealBatch(ctx, SEAL_BATCH);
  }

  /** Before a read of the chain: links what is pending, without queueing behind a seal in progress. */
  private catchUp(ctx: RequestContext): Promise<number> {
    return ctx.transaction ? this.seal(ctx) : this.seal(undefined, { wait: false });
  }

  /**
   * After a commit: seals unless a concurrent seal has taken `id` into the chain already (then nothing waits for the
   * head's lock). Under load one seal links the records of many requests, and the others find theirs done.
   */
  async sealThrough(id: string): Promise<void> {
    if (await this.records.isPending(RequestContext.system(), id)) await this.sealShared();
  }

  /**
   * One seal in flight per process (group commit): a request that commits while a seal runs waits for the next
   * one, which starts after that seal and so links its record, instead of queueing its own transaction on the
   * head's lock. Under load one seal per round links every request that committed meanwhile.
   */
  private sealShared(): Promise<unknown> {
    if (!this.sealInFlight) {
      this.sealInFlight = this.seal().finally(() => {
        this.sealInFlight = null;
      });
      return this.sealInFlight;
    }
    this.sealQueued ??= this.sealInFlight
      .catch(() => undefined)
      .then(() => {
        this.sealQueued = null;
        return this.sealShared();
      });
    return this.sealQueued;
  }

  /**
   * Walks the whole chain in seq order, a batch at a time, and reports the first break; then checks every
   * checkpoint: signed by a known key, and naming a record that is still there with the same hash (a checkpoint
   * past the end of the chain means its tail was deleted).
   */
  async verify(ctx: RequestContext): Promise<AuditVerificationDto> {
    await this.catchUp(ctx);
    const verifier = new ChainVerifier(this.keys.byId);
    await this.walk(ctx, verifier, 0);
    const checkpoints = verifier.firstFailure ? { checked: 0, failure: null } : await this.checkCheckpoints(ctx);
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
    return this.transactions.run(ctx, async () => {
      const last = await this.records.newestCheckpoint(ctx);
      if (last) {
        const anchored = await this.checkCheckpoint(ctx, last);
        if (anchored) {
          this.logger.error({ msg: 'audit chain does not match its newest checkpoint', ...anchored });
          return null;
        }
      }
      const verifier = new ChainVerifier(this.keys.byId, last ? { seq: last.seq, hash: last.hash } : undefined);
      await this.walk(ctx, verifier, last?.seq ?? 0);
      if (verifier.firstFailure) {
        this.logger.error({ msg: 'audit chain broken: no checkpoint signed', failure: verifier.firstFailure });
        return null;
      }
      const head = verifier.head;
      if (!head || head.seq === last?.seq) return head;
      const { id: keyId, key } = this.keys.signing;
      const createdAt = new Date();
      await this.records.insertCheckpoint(ctx, {
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

  /** A card's records of the chain, oldest first (the card's trail), once the records pending are sealed. */
  async recordsOfCard(ctx: RequestContext, serial: string, orderId: string): Promise<AuditRecordDto[]> {
    await this.catchUp(ctx);
    return (await this.records.recordsOfCard(ctx, serial, orderId)).map((record) => AuditRecordDto.from(record));
  }

  async list(ctx: RequestContext, query: ListAuditRecordsQueryDto): Promise<Page<AuditRecordDto>> {
    // A record is listed once it is in the chain: normally right after its change commits.
    await this.catchUp(ctx);
    const page = await this.records.list(
      ctx,
      { objectId: query.object_id, action: query.action, enterpriseId: query.enterprise_id },
      query,
    );
    return { ...page, data: page.data.map((record) => AuditRecordDto.from(record)) };
  }

  /** Feeds the records after seq `after` to the verifier, a batch at a time, until the end or the first break. */
  private async walk(ctx: RequestContext, verifier: ChainVerifier, after: number): Promise<void> {
    for (;;) {
      const batch = await this.records.recordsAfter(ctx, after, VERIFY_BATCH);
      if (!batch.every((record) => verifier.check(record))) return;
      if (batch.length < VERIFY_BATCH) return;
      after = batch[batch.length - 1].seq;
    }
  }

  /** Every checkpoint with its record, joined a batch at a time (one query per batch, not per checkpoint). */
  private async checkCheckpoints(ctx: RequestContext): Promise<{ checked: number; failure: ChainFailure | null }> {
    let checked = 0;
    let after = '0';
    for (;;) {
      const rows = await this.records.checkpointsAfter(ctx, after, VERIFY_BATCH);
      for (const { checkpoint, record } of rows) {
        checked++;
        const failure = this.checkpointFailure(checkpoint, record);
        if (failure) return { checked, failure };
      }
      if (rows.length < VERIFY_BATCH) return { checked, failure: null };
      after = rows[rows.length - 1].id;
    }
  }

  /** The newest checkpoint against its record, read now. */
  private async checkCheckpoint(ctx: RequestContext, checkpoint: AuditCheckpoint): Promise<ChainFailure | null> {
    return this.checkpointFailure(checkpoint, await this.records.recordAt(ctx, checkpoint.seq));
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
}
