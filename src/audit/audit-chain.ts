import type { AuditRecord } from './audit-record.entity';
import { canonicalJson, digestOf, sha256Hex } from '../common/canonical-json';

/** prev_hash of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** What an audit record keeps of a change: digests only, never the objects (they may hold secrets). */
export type AuditData = {
  before_sha256: string | null;
  after_sha256: string | null;
  summary: Record<string, unknown> | null;
};

export type ChainFailureReason = 'hash_mismatch' | 'broken_link' | 'missing_record';

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
 * Dates as strings, BigInts as strings).
 */
export function auditData(before: unknown, after: unknown, summary: Record<string, unknown> | undefined): AuditData {
  const data = {
    before_sha256: before === undefined || before === null ? null : digestOf(before),
    after_sha256: after === undefined || after === null ? null : digestOf(after),
    summary: summary ?? null,
  };
  return JSON.parse(canonicalJson(data)) as AuditData;
}

/** SHA-256 hex over the canonical JSON of every field (snake_case, as the columns are named) plus prev_hash. */
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

/**
 * Checks records fed in seq order, one at a time, so the chain can be walked in
 * batches. Reports the first failure:
 *  - missing_record: a seq was skipped (a row was deleted); reports the missing seq;
 *  - hash_mismatch: the record's fields no longer give its hash (it was edited);
 *  - broken_link: its prev_hash is not the previous record's hash (a record was
 *    replaced or removed and the chain renumbered).
 * Deleting the newest records is invisible to any chain; compare the head against
 * a copy kept elsewhere for that.
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private previousHash = GENESIS_HASH;
  private checkedCount = 0;
  private failure: ChainFailure | null = null;

  get recordsChecked(): number {
    return this.checkedCount;
  }

  get firstFailure(): ChainFailure | null {
    return this.failure;
  }

  /** Returns false once the chain has failed; later records are not looked at. */
  check(record: AuditRecord): boolean {
    if (this.failure) return false;
    this.checkedCount++;
    if (record.seq !== this.expectedSeq) {
      this.failure = { seq: this.expectedSeq, id: null, reason: 'missing_record' };
    } else if (chainHash(record) !== record.hash) {
      this.failure = { seq: record.seq, id: record.id, reason: 'hash_mismatch' };
    } else if (record.prevHash !== this.previousHash) {
      this.failure = { seq: record.seq, id: record.id, reason: 'broken_link' };
    }
    this.expectedSeq = record.seq + 1;
    this.previousHash = record.hash;
    return this.failure === null;
  }
}
