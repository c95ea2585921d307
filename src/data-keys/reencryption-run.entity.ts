import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type ReencryptionStatus = 'queued' | 'running' | 'completed' | 'failed';
export const REENCRYPTION_STATUSES: readonly ReencryptionStatus[] = ['queued', 'running', 'completed', 'failed'];

/** Rows counted per key id (the id an envelope names; never key material). */
export type CountsByKeyId = Record<string, number>;

/**
 * Where a run stands on one encrypted column: its checkpoint (the keyset cursor) and counters, committed in the
 * same transaction as each batch of re-sealed rows, so a run killed at any moment resumes exactly there.
 */
export interface ColumnProgress {
  /** pending: not reached; running: being walked; done: walked to the end. */
  state: 'pending' | 'running' | 'done';
  /** Primary key of the last row walked, as text (one value per key column); null: from the first row. */
  cursor: string[] | null;
  /** Rows of the table when the column's walk began (with or without an envelope). */
  rowsAtStart: number;
  /** Envelopes per key id when the column's walk began. */
  keysAtStart: CountsByKeyId;
  /** Rows walked so far. */
  scanned: number;
  /** Envelopes sealed again under the target key, by the key id they had. */
  reencrypted: CountsByKeyId;
  /** Envelopes that do not open (key not configured, altered, or another key of that id), left as they are. */
  unreadable: CountsByKeyId;
  /** Envelopes changed by someone else (purged, rewritten) between the read and the update, left as they are. */
  changed: CountsByKeyId;
  /** A few of the unreadable rows' primary keys, for the operator to look at. */
  unreadableSamples: string[];
  /** Envelopes per key id once the column is done (counted again: exact, including concurrent writes). */
  keysAfter: CountsByKeyId | null;
}

/**
 * One re-encryption run (`POST /v1/admin/keys/re-encryptions`): every encrypted column walked in primary-key
 * order, envelopes not under `targetKeyId` opened and sealed again under it, and cards not indexed under
 * `targetCodeKeyId` indexed again under it. At most one run is queued or running.
 */
@Entity('reencryption_runs')
@Index('reencryption_runs_status', ['status'])
export class ReencryptionRun {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  status: ReencryptionStatus;

  /** The active key id of the process that started the run; a worker with another active key refuses the run. */
  @Column('text')
  targetKeyId: string;

  /**
   * The current CODE_PEPPER id of the process that started the run: cards.code_hash is re-indexed under it, and a
   * worker with another current pepper refuses the run. Null on runs from before peppers had ids.
   */
  @Column('text', { nullable: true })
  targetCodeKeyId: string | null;

  /** Rows read and updated per transaction. */
  @Column('integer')
  batchSize: number;

  /** Per column (`table.column`). */
  @Column('jsonb')
  progress: Record<string, ColumnProgress>;

  @Column('text', { nullable: true })
  requestedByClientId: string | null;

  @Column('text', { nullable: true })
  failureReason: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { nullable: true })
  startedAt: Date | null;

  @Column('timestamptz', { nullable: true })
  completedAt: Date | null;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
