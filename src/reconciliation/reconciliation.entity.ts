import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

export type ReconciliationStatus = 'processing' | 'completed' | 'failed';
export type ReconciliationFormat = 'csv' | 'xlsx' | 'json';

/** What matching says of an ERP row (or, for missing_in_erp, of a Fuli order no ERP row names). */
export const RESULT_KINDS = [
  'matched',
  'missing_in_fuli',
  'missing_in_erp',
  'amount_mismatch',
  'invoice_mismatch',
  'duplicate',
] as const;
export type ResultKind = (typeof RESULT_KINDS)[number];
/** Every kind but `matched`: the kinds stored as differences. */
export type DifferenceKind = Exclude<ResultKind, 'matched'>;
export const DIFFERENCE_KINDS = RESULT_KINDS.filter((kind): kind is DifferenceKind => kind !== 'matched');

export type ResultCounts = Record<ResultKind, number>;

/** One upload of an ERP's records and, once the worker has matched them, how many rows came out of each kind. */
@Entity('reconciliations')
@Index('reconciliations_enterprise', ['enterpriseId', 'id'])
@Check('reconciliations_period', '"period_from" <= "period_to"')
export class Reconciliation {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'PK_reconciliations' })
  id: string;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  status: ReconciliationStatus;

  @Column('text')
  format: ReconciliationFormat;

  @Column('text', { nullable: true })
  filename: string | null;

  @Column('integer')
  rowCount: number;

  /** Asia/Shanghai calendar days, inclusive: Fuli's orders paid in them are expected in the upload. */
  @Column('date')
  periodFrom: string;

  @Column('date')
  periodTo: string;

  /** Whether the period was given with the upload (else: the earliest..latest date of its rows). */
  @Column('boolean')
  periodGiven: boolean;

  /** Rows by result kind; null until matched. */
  @Column('jsonb', { nullable: true })
  counts: ResultCounts | null;

  @Column('text', { nullable: true })
  failureReason: string | null;

  @Column('text')
  createdByClientId: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { nullable: true })
  completedAt: Date | null;
}

/** A checked row of an upload, as the ERP stated it (written with COPY; no id of its own). */
@Entity('reconciliation_rows')
export class ReconciliationRow {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'PK_reconciliation_rows' })
  reconciliationId: string;

  /** 1-based data row of the file (the header not counted), or element of `records`. */
  @PrimaryColumn('integer', { primaryKeyConstraintName: 'PK_reconciliation_rows' })
  rowNumber: number;

  @Column('text', { nullable: true })
  orderId: string | null;

  @Column('text', { nullable: true })
  poNumber: string | null;

  /** Fen. */
  @Column('bigint', { transformer: bigintNumber })
  amount: number;

  @Column('date')
  date: string;

  @Column('text', { nullable: true })
  invoiceNumber: string | null;
}

/**
 * One difference matching found, with both sides' values: the ERP row's (null for missing_in_erp) and the Fuli
 * order's (null for missing_in_fuli). `position` orders them: ERP rows by row number, then the orders missing in the
 * ERP after the last row.
 */
@Entity('reconciliation_differences')
@Index('reconciliation_differences_kind', ['reconciliationId', 'kind', 'position'])
export class ReconciliationDifference {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'PK_reconciliation_differences' })
  reconciliationId: string;

  @PrimaryColumn('integer', { primaryKeyConstraintName: 'PK_reconciliation_differences' })
  position: number;

  @Column('text')
  kind: DifferenceKind;

  @Column('integer', { nullable: true })
  rowNumber: number | null;

  /** For a duplicate: the first row of the upload with the same key. */
  @Column('integer', { nullable: true })
  duplicateOfRow: number | null;

  @Column('text', { nullable: true })
  erpOrderId: string | null;

  @Column('text', { nullable: true })
  erpPoNumber: string | null;

  @Column('bigint', { nullable: true, transformer: bigintNumber })
  erpAmount: number | null;

  @Column('date', { nullable: true })
  erpDate: string | null;

  @Column('text', { nullable: true })
  erpInvoiceNumber: string | null;

  @Column('text', { nullable: true })
  fuliOrderId: string | null;

  @Column('text', { nullable: true })
  fuliPoNumber: string | null;

  @Column('text', { nullable: true })
  fuliOrderStatus: string | null;

  /** What was paid for the order (its payable once paid, 0 before). */
  @Column('bigint', { nullable: true, transformer: bigintNumber })
  fuliAmount: number | null;

  /** The Asia/Shanghai day the order was paid. */
  @Column('date', { nullable: true })
  fuliDate: string | null;

  @Column('text', { nullable: true })
  fuliInvoiceNumber: string | null;
}
