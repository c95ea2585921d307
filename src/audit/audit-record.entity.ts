import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

/** What a record says, chained (AuditRecord) or waiting to be (AuditPending, src/audit/audit-pending.entity.ts). */
export abstract class AuditFields {
  @Column('timestamptz')
  occurredAt: Date;

  /** API client that acted; null for the system itself. */
  @Column('text', { nullable: true })
  actorClientId: string | null;

  @Column('text')
  action: string;

  @Column('text')
  objectType: string;

  @Column('text')
  objectId: string;

  @Column('text', { nullable: true })
  requestId: string | null;

  /** What changed: digests of before/after and a summary without secrets. */
  @Column('jsonb')
  data: Record<string, unknown>;
}

/**
 * One link of the keyed, hash-chained audit log (src/audit/audit-chain.ts): `mac` is an HMAC of every field under
 * a key the database never holds, `hash` links it to the previous record, so an edit, a deletion or a reordering
 * breaks the chain. Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE.
 */
@Entity('audit_records')
export class AuditRecord extends AuditFields {
  /** Gap-free position in the chain, assigned under a lock. */
  @PrimaryColumn('bigint', { transformer: bigintNumber })
  seq: number;

  @Index({ unique: true })
  @Column('text')
  id: string;

  @Index()
  @Column('text', { nullable: true })
  enterpriseId: string | null;

  /** Which AUDIT_HMAC_KEYS key made `mac`; null for records written before the chain was keyed. */
  @Column('text', { nullable: true })
  keyId: string | null;

  /** HMAC-SHA256 of the record's fields (all but seq and the hashes); null for records from before the chain was keyed. */
  @Column('char', { length: 64, nullable: true })
  mac: string | null;

  @Column('char', { length: 64 })
  prevHash: string;

  @Column('char', { length: 64 })
  hash: string;
}
