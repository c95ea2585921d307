import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

/**
 * One link of the hash-chained audit log: `hash` covers every field and the
 * previous record's hash, so an edit, a deletion or a reordering breaks the chain.
 */
@Entity('audit_records')
export class AuditRecord {
  /** Gap-free position in the chain, assigned under a lock. */
  @PrimaryColumn('bigint', { transformer: bigintNumber })
  seq: number;

  @Index({ unique: true })
  @Column('text')
  id: string;

  @Column('timestamptz')
  occurredAt: Date;

  /** API client that acted; null for the system itself. */
  @Column('text', { nullable: true })
  actorClientId: string | null;

  @Index()
  @Column('text', { nullable: true })
  enterpriseId: string | null;

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

  @Column('char', { length: 64 })
  prevHash: string;

  @Column('char', { length: 64 })
  hash: string;
}
