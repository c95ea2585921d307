import { Check, Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

/**
 * A signed copy of the audit chain's head, taken after the records since the previous checkpoint were verified:
 * deleting records from the end of the chain (which no chain can show by itself) leaves a checkpoint naming a
 * record that is gone. Append-only, like the chain. Each is also logged, for a copy outside the database.
 */
@Entity('audit_checkpoints')
export class AuditCheckpoint {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  /** The head record's seq. */
  @Column('bigint', { transformer: bigintNumber })
  seq: number;

  /** The head record's hash. */
  @Column('char', { length: 64 })
  hash: string;

  @Column('text')
  keyId: string;

  /** HMAC-SHA256 of seq, hash and createdAt. */
  @Column('char', { length: 64 })
  mac: string;

  @Column('timestamptz')
  createdAt: Date;
}

/**
 * The chain's newest link, one row: appending updates it in the same statement that inserts the record, so the
 * row lock (held to the commit) serialises appenders and seq stays gap-free. Not trusted by verification, which
 * reads the records themselves.
 */
@Entity('audit_chain_head')
@Check('audit_chain_head_one_row', 'id = 1')
export class AuditChainHead {
  @PrimaryColumn('smallint')
  id: number;

  @Column('bigint', { transformer: bigintNumber })
  seq: number;

  @Column('char', { length: 64 })
  prevHash: string;

  @Column('char', { length: 64 })
  hash: string;
}
