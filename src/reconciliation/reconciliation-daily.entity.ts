import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** One `reconciliation.daily` event sent: at most one per enterprise and Asia/Shanghai day (the primary key). */
@Entity('reconciliation_daily_runs')
export class ReconciliationDailyRun {
  @PrimaryColumn('text')
  enterpriseId: string;

  /** The day summarised, YYYY-MM-DD in Asia/Shanghai. */
  @PrimaryColumn('date')
  day: string;

  @Column('text')
  eventId: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
