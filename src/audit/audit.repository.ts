import { Injectable } from '@nestjs/common';
import { MoreThan } from 'typeorm';
import type { CanonicalJsonText } from '../common/canonical-json';
import { RequestContext } from '../common/context/request-context';
import { dataParam } from './audit-chain';
import { type Page, type ListQueryDto } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import { AuditCheckpoint } from './audit-checkpoint.entity';
import { AuditRecord } from './audit-record.entity';

/** Records sealed per statement; a seal loops until nothing it can see is pending. */
export const SEAL_BATCH = 1000;

/**
 * Appends take no lock: a record goes into audit_pending in its change's transaction (one INSERT), and a seal
 * links pending records into the chain in a short transaction of its own, under the head row's lock, once that
 * transaction has committed. Holding the head's lock in every change's transaction until its commit made every
 * audited change (each redemption debit) wait for the one before it.
 */
export const APPEND_SQL = `
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

/** A record as appended: every field of the chain but its seq and links, which the seal gives it. */
export interface PendingAuditRecord {
  id: string;
  occurredAt: Date;
  actorClientId: string | null;
  enterpriseId: string | null;
  action: string;
  objectType: string;
  objectId: string;
  requestId: string | null;
  data: Record<string, unknown> | CanonicalJsonText;
  keyId: string;
  mac: string;
}

/**
 * The audit module's part of a single-statement hot path (docs/architecture.md): CTE `<name>` writes the signed
 * pending record (the same row AuditRepository.append writes) once per row of `source`, its parameters numbered
 * from `firstParam`. AuditService.appendSql signs the record and hands out this fragment.
 */
export function pendingRecordSql(
  record: PendingAuditRecord,
  { source, firstParam, name = 'audit' }: { source: string; firstParam: number; name?: string },
): { sql: string; params: unknown[]; id: string } {
  const params = [
    record.id,
    record.occurredAt,
    record.actorClientId,
    record.enterpriseId,
    record.action,
    record.objectType,
    record.objectId,
    record.requestId,
    dataParam(record.data),
    record.keyId,
    record.mac,
  ];
  const p = (n: number, cast: string) => `$${firstParam + n}::${cast}`;
  return {
    sql: `${name} AS (
       INSERT INTO audit_pending (id, occurred_at, actor_client_id, enterprise_id, action, object_type, object_id,
         request_id, data, key_id, mac)
       SELECT ${p(0, 'text')}, ${p(1, 'timestamptz')}, ${p(2, 'text')}, ${p(3, 'text')}, ${p(4, 'text')},
         ${p(5, 'text')}, ${p(6, 'text')}, ${p(7, 'text')}, ${p(8, 'jsonb')}, ${p(9, 'text')}, ${p(10, 'text')}
       FROM ${source}
       RETURNING id)`,
    params,
    id: record.id,
  };
}

/** A checkpoint beside the record it names (null: no record has that seq any more). */
export interface CheckpointWithRecord {
  id: string;
  checkpoint: Pick<AuditCheckpoint, 'seq' | 'hash' | 'keyId' | 'mac' | 'createdAt'>;
  record: { id: string; hash: string } | null;
}

export interface AuditRecordFilter {
  objectId?: string;
  action?: string;
  enterpriseId?: string;
}

/** audit_records, audit_pending, audit_chain_head and audit_checkpoints. */
@Injectable()
export class AuditRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** One INSERT into audit_pending, in the context's transaction (the record lives or dies with its change). */
  async append(ctx: RequestContext, record: PendingAuditRecord): Promise<void> {
    await this.connection
      .transactionManager(ctx, 'AuditRepository.append')
      .query(APPEND_SQL, [
        record.id,
        record.occurredAt,
        record.actorClientId,
        record.enterpriseId,
        record.action,
        record.objectType,
        record.objectId,
        record.requestId,
        dataParam(record.data),
        record.keyId,
        record.mac,
      ]);
  }

  /** Several records in one INSERT (a bulk change described in chunks), in the context's transaction. */
  async appendAll(ctx: RequestContext, records: readonly PendingAuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const column = <T>(pick: (record: PendingAuditRecord) => T) => records.map(pick);
    await this.connection.transactionManager(ctx, 'AuditRepository.appendAll').query(
      // In the records' order: pending_no, which the seal links by, is drawn row by row. The data go as one JSON
      // array, not a text[]: pg escapes each element of an array parameter in JavaScript, which for a few hundred
      // summaries of 45 kB each (a distribution's assignments) was most of the request's time, in garbage collection.
      `INSERT INTO audit_pending (id, occurred_at, actor_client_id, enterprise_id, action, object_type, object_id,
         request_id, data, key_id, mac)
       SELECT r.id, r.occurred_at, r.actor_client_id, r.enterprise_id, r.action, r.object_type, r.object_id,
              r.request_id, d.data, r.key_id, r.mac
         FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $10::text[], $11::text[]) WITH ORDINALITY
           AS r(id, occurred_at, actor_client_id, enterprise_id, action, object_type, object_id, request_id, key_id,
                mac, n)
         JOIN jsonb_array_elements($9::jsonb) WITH ORDINALITY AS d(data, n) ON d.n = r.n
        ORDER BY r.n`,
      [
        column((record) => record.id),
        column((record) => record.occurredAt),
        column((record) => record.actorClientId),
        column((record) => record.enterpriseId),
        column((record) => record.action),
        column((record) => record.objectType),
        column((record) => record.objectId),
        column((record) => record.requestId),
        `[${records.map((record) => dataParam(record.data)).join(',')}]`,
        column((record) => record.keyId),
        column((record) => record.mac),
      ],
    );
  }

  async summaryOf(ctx: RequestContext, id: string): Promise<unknown> {
    const rows = await this.connection.query<Array<{ summary: unknown }>>(
      ctx,
      `SELECT data -> 'summary' AS summary FROM audit_records WHERE id = $1
       UNION ALL
       SELECT data -> 'summary' FROM audit_pending WHERE id = $1`,
      [id],
    );
    return rows[0]?.summary ?? null;
  }

  async isPending(ctx: RequestContext, id: string): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(ctx, 'SELECT 1 FROM audit_pending WHERE id = $1', [id]);
    return rows.length > 0;
  }

  /**
   * Locks the chain's head row until the context's transaction ends. `wait: false` gives way (false) when
   * another transaction holds it; a missing head is an error when waiting.
   */
  async lockHead(ctx: RequestContext, wait: boolean): Promise<boolean> {
    const rows = await this.connection
      .transactionManager(ctx, 'AuditRepository.lockHead')
      .query<unknown[]>(`SELECT 1 FROM audit_chain_head WHERE id = 1 FOR UPDATE${wait ? '' : ' SKIP LOCKED'}`);
    if (rows.length === 0 && wait) throw new Error('audit_chain_head is missing: run the migrations');
    return rows.length > 0;
  }

  /** Links up to `limit` of the oldest pending records into the chain (head locked by lockHead); how many. */
  async sealBatch(ctx: RequestContext, limit = SEAL_BATCH): Promise<number> {
    const [{ sealed }] = await this.connection
      .transactionManager(ctx, 'AuditRepository.sealBatch')
      .query<Array<{ sealed: number }>>(SEAL_SQL, [limit]);
    return sealed;
  }

  /**
   * One seal in a short transaction of its own (not a request's): the head locked (`wait: false` gives way, 0,
   * when another seal holds it), then up to `limit` pending records linked. How many it sealed.
   */
  async sealInOwnTransaction(wait: boolean, limit = SEAL_BATCH): Promise<number> {
    return this.connection.rawDataSource.transaction(async (manager) => {
      const own = RequestContext.system();
      own.bindTransaction({ manager, afterCommit: [] });
      if (!(await this.lockHead(own, wait))) return 0;
      return this.sealBatch(own, limit);
    });
  }

  /** The records after seq `after`, in seq order, at most `limit`. */
  async recordsAfter(ctx: RequestContext, after: number, limit: number): Promise<AuditRecord[]> {
    return this.connection
      .manager(ctx)
      .find(AuditRecord, { where: { seq: MoreThan(after) }, order: { seq: 'ASC' }, take: limit });
  }

  /** The record with this seq (its id and hash), or null. */
  async recordAt(ctx: RequestContext, seq: number): Promise<Pick<AuditRecord, 'seq' | 'id' | 'hash'> | null> {
    return this.connection
      .manager(ctx)
      .findOne(AuditRecord, { where: { seq }, select: { seq: true, id: true, hash: true } });
  }

  /**
   * Every record of the chain about one card, in chain order: the card's own (reveals, lifecycle actions, fraud
   * alerts), movements naming it (bind, debit, reversal, freeze, loss, replacement), the minting of the chunk that
   * holds its serial, its order's exports and the distribution that assigned it. The summaries are searched without
   * an index (a trail is asked for one card at a time, by a person).
   */
  async recordsOfCard(ctx: RequestContext, serial: string, orderId: string): Promise<AuditRecord[]> {
    return this.connection
      .manager(ctx)
      .createQueryBuilder(AuditRecord, 'record')
      .where(
        `(record.object_type = 'card' AND record.object_id = :serial)
         OR record.data -> 'summary' -> 'movements' @> jsonb_build_array(jsonb_build_object('serial', :serial::text))
         OR (record.action = 'cards.minted' AND record.data -> 'summary' ->> 'order_id' = :orderId
             AND :serial::bigint BETWEEN (record.data -> 'summary' ->> 'first_serial')::bigint
                                     AND (record.data -> 'summary' ->> 'last_serial')::bigint)
         OR (record.action LIKE 'card_export.%' AND record.data -> 'summary' ->> 'order_id' = :orderId)
         OR (record.action = 'distribution.cards_assigned'
             AND record.data -> 'summary' -> 'assignments' @> jsonb_build_array(jsonb_build_object('serial', :serial::text)))`,
        { serial, orderId },
      )
      .orderBy('record.seq', 'ASC')
      .getMany();
  }

  async list(ctx: RequestContext, filter: AuditRecordFilter, page: ListQueryDto): Promise<Page<AuditRecord>> {
    const builder = this.connection.manager(ctx).createQueryBuilder(AuditRecord, 'record');
    if (filter.objectId) builder.andWhere('record.objectId = :objectId', { objectId: filter.objectId });
    if (filter.action) builder.andWhere('record.action = :action', { action: filter.action });
    if (filter.enterpriseId)
      builder.andWhere('record.enterpriseId = :enterpriseId', { enterpriseId: filter.enterpriseId });
    return paginate(builder, page, (record) => record);
  }

  async newestCheckpoint(ctx: RequestContext): Promise<AuditCheckpoint | null> {
    const [last] = await this.connection.manager(ctx).find(AuditCheckpoint, { order: { id: 'DESC' }, take: 1 });
    return last ?? null;
  }

  async insertCheckpoint(ctx: RequestContext, checkpoint: Omit<AuditCheckpoint, 'id'>): Promise<void> {
    await this.connection
      .transactionManager(ctx, 'AuditRepository.insertCheckpoint')
      .insert(AuditCheckpoint, checkpoint);
  }

  /** Checkpoints with id after `afterId`, in id order, each joined to the record it names. */
  async checkpointsAfter(ctx: RequestContext, afterId: string, limit: number): Promise<CheckpointWithRecord[]> {
    const rows = await this.connection.query<
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
      ctx,
      `SELECT c.id::text AS id, c.seq::text AS seq, c.hash, c.key_id, c.mac, c.created_at,
              r.id AS record_id, r.hash AS record_hash
       FROM audit_checkpoints c LEFT JOIN audit_records r ON r.seq = c.seq
       WHERE c.id > $1 ORDER BY c.id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((row) => ({
      id: row.id,
      checkpoint: { seq: Number(row.seq), hash: row.hash, keyId: row.key_id, mac: row.mac, createdAt: row.created_at },
      record: row.record_id === null ? null : { id: row.record_id, hash: row.record_hash! },
    }));
  }
}
