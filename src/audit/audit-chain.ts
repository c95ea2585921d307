import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditRecord } from './audit-record.entity';
import { canonicalJson, CanonicalJsonText, digestOf, sha256Hex } from '../common/canonical-json';

/** prev_hash of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** What an audit record keeps of a change: digests only, never the objects (they may hold secrets). */
export type AuditData = {
  before_sha256: string | null;
  after_sha256: string | null;
  summary: Record<string, unknown> | null;
};

export type ChainFailureReason =
  'hash_mismatch' | 'broken_link' | 'missing_record' | 'unknown_key' | 'checkpoint_mismatch' | 'truncated';

export interface ChainFailure {
  seq: number;
  /** Null for a missing record: its id went with it. */
  id: string | null;
  reason: ChainFailureReason;
}

/** The fields the hash covers; the hash itself is the only stored column left out. */
export type HashedFields = Pick<
  AuditRecord,
  | 'seq'
  | 'id'
  | 'occurredAt'
  | 'actorClientId'
  | 'enterpriseId'
  | 'action'
  | 'objectType'
  | 'objectId'
  | 'requestId'
  | 'data'
  | 'prevHash'
>;

/**
 * Digests of before/after and the summary, passed through canonical JSON and back
 * so the stored jsonb is exactly the value that was hashed (no undefined members,
 * Dates as strings, BigInts as strings). A summary given as canonical JSON text (built by SQL) stays text: the
 * data is then its canonical text, spliced, never parsed.
 */
export function auditData(before: unknown, after: unknown, summary: Record<string, unknown> | undefined): AuditData;
export function auditData(
  before: unknown,
  after: unknown,
  summary: Record<string, unknown> | CanonicalJsonText | undefined,
): AuditData | CanonicalJsonText;
export function auditData(
  before: unknown,
  after: unknown,
  summary: Record<string, unknown> | CanonicalJsonText | undefined,
): AuditData | CanonicalJsonText {
  const data = {
    before_sha256: before === undefined || before === null ? null : digestOf(before),
    after_sha256: after === undefined || after === null ? null : digestOf(after),
    summary: summary ?? null,
  };
  if (summary instanceof CanonicalJsonText) return new CanonicalJsonText(canonicalJson(data));
  return JSON.parse(canonicalJson(data)) as AuditData;
}

/** A record's data as the jsonb parameter of an INSERT. */
export function dataParam(data: AuditData | CanonicalJsonText | Record<string, unknown>): string {
  return data instanceof CanonicalJsonText ? data.text : JSON.stringify(data);
}

/**
 * The hash of a record written before the chain was keyed (key_id null): SHA-256 hex over the canonical JSON of
 * every field (snake_case, as the columns are named) plus prev_hash.
 */
export function chainHash(record: HashedFields): string {
  return sha256Hex(
    canonicalJson({
      seq: record.seq,
      id: record.id,
      occurred_at: record.occurredAt.toISOString(),
      actor_client_id: record.actorClientId,
      enterprise_id: record.enterpriseId,
      action: record.action,
      object_type: record.objectType,
      object_id: record.objectId,
      request_id: record.requestId,
      data: record.data,
      prev_hash: record.prevHash,
    }),
  );
}

/** The fields a keyed record's MAC covers: all it says, less its place in the chain (seq and the hashes). */
export type MacedFields = Omit<HashedFields, 'seq' | 'prevHash' | 'data'> & {
  keyId: string;
  /** The data, or its canonical JSON text when SQL built it (a record written inside a statement). */
  data: HashedFields['data'] | CanonicalJsonText;
};

/** HMAC-SHA256 hex, under the key named by keyId, of the canonical JSON of the record's fields. */
export function recordMac(key: Buffer, record: MacedFields): string {
  return createHmac('sha256', key)
    .update(
      canonicalJson({
        id: record.id,
        occurred_at: record.occurredAt.toISOString(),
        actor_client_id: record.actorClientId,
        enterprise_id: record.enterpriseId,
        action: record.action,
        object_type: record.objectType,
        object_id: record.objectId,
        request_id: record.requestId,
        data: record.data,
        key_id: record.keyId,
      }),
    )
    .digest('hex');
}

/**
 * The link of a keyed record: SHA-256 hex of `prev_hash:seq:mac`. Computed by the database in the statement that
 * appends the record (AuditService), so an append is one statement; the key never leaves the application, and the
 * MAC inside the link is what an attacker without it cannot forge.
 */
export function linkHash(prevHash: string, seq: number, mac: string): string {
  return sha256Hex(`${prevHash}:${seq}:${mac}`);
}

/** HMAC-SHA256 hex of a checkpoint: the head's seq and hash at a time. */
export function checkpointMac(key: Buffer, checkpoint: { seq: number; hash: string; createdAt: Date; keyId: string }) {
  return createHmac('sha256', key)
    .update(
      `audit-checkpoint:${checkpoint.keyId}:${checkpoint.seq}:${checkpoint.hash}:${checkpoint.createdAt.toISOString()}`,
    )
    .digest('hex');
}

export function sameHex(a: string | null, b: string): boolean {
  if (a === null || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * Checks records fed in seq order, one at a time, so the chain can be walked in
 * batches. Reports the first failure:
 *  - missing_record: a seq was skipped (a row was deleted); reports the missing seq;
 *  - hash_mismatch: the record's fields no longer give its MAC or its hash (it was edited), or an unkeyed record
 *    follows a keyed one (a forgery: once keyed, every record is);
 *  - unknown_key: its key_id names no configured key;
 *  - broken_link: its prev_hash is not the previous record's hash (a record was
 *    replaced or removed and the chain renumbered).
 * Deleting the newest records is invisible to any chain: the checkpoints (AuditService) show that.
 * `start`: resume after a record already verified (its seq and hash).
 */
export class ChainVerifier {
  private expectedSeq: number;
  private previousHash: string;
  private keyed = false;
  private checkedCount = 0;
  private failure: ChainFailure | null = null;

  constructor(
    private readonly keys: ReadonlyMap<string, Buffer> = new Map(),
    start: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH },
  ) {
    this.expectedSeq = start.seq + 1;
    this.previousHash = start.hash;
  }

  get recordsChecked(): number {
    return this.checkedCount;
  }

  get firstFailure(): ChainFailure | null {
    return this.failure;
  }

  /** The last record checked and found intact. */
  get head(): { seq: number; hash: string } | null {
    return this.expectedSeq > 1 && !this.failure ? { seq: this.expectedSeq - 1, hash: this.previousHash } : null;
  }

  /** Returns false once the chain has failed; later records are not looked at. */
  check(record: AuditRecord): boolean {
    if (this.failure) return false;
    this.checkedCount++;
    const fail = (reason: ChainFailureReason, seq = record.seq, id: string | null = record.id) => {
      this.failure = { seq, id, reason };
    };
    if (record.seq !== this.expectedSeq) fail('missing_record', this.expectedSeq, null);
    else if (record.keyId === null) {
      if (this.keyed || chainHash(record) !== record.hash) fail('hash_mismatch');
    } else {
      this.keyed = true;
      const key = this.keys.get(record.keyId);
      if (!key) fail('unknown_key');
      else if (!sameHex(record.mac, recordMac(key, { ...record, keyId: record.keyId }))) fail('hash_mismatch');
      else if (record.hash !== linkHash(record.prevHash, record.seq, record.mac!)) fail('hash_mismatch');
    }
    if (!this.failure && record.prevHash !== this.previousHash) fail('broken_link');
    if (this.failure) return false;
    this.expectedSeq = record.seq + 1;
    this.previousHash = record.hash;
    return true;
  }
}
