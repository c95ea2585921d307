import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, MoreThan, type QueryDeepPartialEntity } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { type Page, paginate } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { auditData, ChainVerifier, chainHash, GENESIS_HASH } from './audit-chain';
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

/**
 * Every process appends under this transaction-scoped advisory lock, so seq is
 * gap-free and each record links to the one committed before it. Any fixed number
 * works; it differs from the migration lock.
 */
export const AUDIT_CHAIN_LOCK = 8_154_301;

/** Records read per query while verifying: the walk never holds the whole table. */
const VERIFY_BATCH = 1000;

@Injectable()
export class AuditService {
  constructor(
    private readonly transactions: TransactionService,
    private readonly dataSource: DataSource,
  ) {}

  /**
   * Appends a record inside the context's transaction, so it commits or rolls back
   * with the change it describes. The lock is held until that transaction ends:
   * call this as the last write of a transaction to keep the serialised part short.
   */
  async record(ctx: RequestContext, entry: AuditEntry): Promise<AuditRecord> {
    return this.transactions.run(ctx, async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_CHAIN_LOCK]);
      const last = await manager
        .createQueryBuilder(AuditRecord, 'record')
        .select(['record.seq', 'record.hash'])
        .orderBy('record.seq', 'DESC')
        .limit(1)
        .getOne();
      const record = manager.create(AuditRecord, {
        seq: (last?.seq ?? 0) + 1,
        id: newId('audit'),
        occurredAt: new Date(),
        actorClientId: ctx.clientId,
        enterpriseId: entry.enterpriseId ?? null,
        action: entry.action,
        objectType: entry.objectType,
        objectId: entry.objectId,
        requestId: ctx.requestId,
        data: auditData(entry.before, entry.after, entry.summary),
        prevHash: last?.hash ?? GENESIS_HASH,
      });
      record.hash = chainHash(record);
      // The jsonb column's open Record type defeats TypeORM's deep-partial typing; the value is plain JSON.
      await manager.insert(AuditRecord, record as QueryDeepPartialEntity<AuditRecord>);
      return record;
    });
  }

  /** Walks the whole chain in seq order, a batch at a time, and reports the first break. */
  async verify(ctx: RequestContext): Promise<AuditVerificationDto> {
    const manager = this.reader(ctx);
    const verifier = new ChainVerifier();
    let after = 0;
    for (;;) {
      const batch = await manager.find(AuditRecord, {
        where: { seq: MoreThan(after) },
        order: { seq: 'ASC' },
        take: VERIFY_BATCH,
      });
      if (!batch.every((record) => verifier.check(record))) break;
      if (batch.length < VERIFY_BATCH) break;
      after = batch[batch.length - 1].seq;
    }
    return {
      object: 'audit_verification',
      ok: verifier.firstFailure === null,
      records_checked: verifier.recordsChecked,
      first_failure: verifier.firstFailure,
    };
  }

  async list(ctx: RequestContext, query: ListAuditRecordsQueryDto): Promise<Page<AuditRecordDto>> {
    const builder = this.reader(ctx).createQueryBuilder(AuditRecord, 'record');
    if (query.object_id) builder.andWhere('record.objectId = :objectId', { objectId: query.object_id });
    if (query.action) builder.andWhere('record.action = :action', { action: query.action });
    if (query.enterprise_id)
      builder.andWhere('record.enterpriseId = :enterpriseId', { enterpriseId: query.enterprise_id });
    return paginate(builder, query, AuditRecordDto.from);
  }

  /** Reads join the request's open transaction, so they see its own uncommitted writes. */
  private reader(ctx: RequestContext): EntityManager {
    return ctx.transaction?.manager ?? this.dataSource.manager;
  }
}
