import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

export type StatementRunStatus = 'building' | 'ready' | 'failed';
export type StatementRunFormat = 'csv' | 'xlsx';

/**
 * A statement file built by a worker (POST /v1/statement-runs): its period, its status and, once ready, the stored
 * file's size and SHA-256 (the file itself is in the file store under `statements/<id>.<format>`).
 */
@Entity('statement_runs')
@Index('statement_runs_enterprise', ['enterpriseId', 'id'])
@Check('statement_runs_period', '"period_from" < "period_to"')
export class StatementRun {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'PK_statement_runs' })
  id: string;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  status: StatementRunStatus;

  @Column('text')
  format: StatementRunFormat;

  /** The period [from, to), as the statement request parsed it. */
  @Column('timestamptz')
  periodFrom: Date;

  @Column('timestamptz')
  periodTo: Date;

  @Column('bigint', { nullable: true, transformer: bigintNumber })
  sizeBytes: number | null;

  @Column('text', { nullable: true })
  sha256: string | null;

  @Column('text', { nullable: true })
  failureReason: string | null;

  @Column('text')
  createdByClientId: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { nullable: true })
  completedAt: Date | null;

  /** When the file is deleted (the file store's purge); set once ready. */
  @Column('timestamptz', { nullable: true })
  expiresAt: Date | null;
}
