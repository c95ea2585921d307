import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Length, Matches, Max, Min } from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';
import {
  DIFFERENCE_KINDS,
  RESULT_KINDS,
  type DifferenceKind,
  type Reconciliation,
  type ReconciliationDifference,
  type ResultCounts,
} from '../reconciliation.entity';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Query of POST /v1/reconciliations (every format: the body is only the records). */
export class UploadReconciliationQueryDto {
  @ApiPropertyOptional({ description: 'A name to show the upload by (the file name)', example: 'erp-2026-11.csv' })
  @IsOptional()
  @Length(1, 200)
  filename?: string;

  @ApiPropertyOptional({
    description:
      'First day (Asia/Shanghai, inclusive) of the period the records cover; with period_to. Absent: the earliest ' +
      "date of the rows. Fuli's orders paid in the period and named by no row are reported missing_in_erp.",
    example: '2026-11-01',
  })
  @IsOptional()
  @Matches(DAY, { message: 'period_from must be a day as YYYY-MM-DD' })
  period_from?: string;

  @ApiPropertyOptional({ description: 'Last day (inclusive) of the period; with period_from', example: '2026-11-30' })
  @IsOptional()
  @Matches(DAY, { message: 'period_to must be a day as YYYY-MM-DD' })
  period_to?: string;
}

export class ResultCountsDto implements ResultCounts {
  @ApiProperty({ description: 'Rows whose order, amount and (when given) invoice number agree' })
  matched: number;

  @ApiProperty({ description: "Rows naming no order of the enterprise's" })
  missing_in_fuli: number;

  @ApiProperty({ description: 'Orders paid in the period that no row names' })
  missing_in_erp: number;

  @ApiProperty({ description: 'Rows whose amount differs from what was paid for the order' })
  amount_mismatch: number;

  @ApiProperty({ description: "Rows whose invoice number differs from the order's invoice (or it has none)" })
  invoice_mismatch: number;

  @ApiProperty({ description: 'Rows naming an order an earlier row of the upload already named' })
  duplicate: number;
}

export class ReconciliationDto {
  @ApiProperty({ enum: ['reconciliation'] })
  object: 'reconciliation';

  @ApiProperty({ example: 'rcn_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty({
    enum: ['processing', 'completed', 'failed'],
    description: 'processing until the worker has matched the rows (then reconciliation.completed is sent)',
  })
  status: Reconciliation['status'];

  @ApiProperty({ enum: ['csv', 'xlsx', 'json'] })
  format: Reconciliation['format'];

  @ApiProperty({ type: String, nullable: true })
  filename: string | null;

  @ApiProperty({ description: 'Rows uploaded' })
  row_count: number;

  @ApiProperty({ format: 'date', description: 'First day of the period (Asia/Shanghai, inclusive)' })
  period_from: string;

  @ApiProperty({ format: 'date', description: 'Last day of the period (inclusive)' })
  period_to: string;

  @ApiProperty({ description: 'Whether the period was given with the upload, or taken from the dates of its rows' })
  period_given: boolean;

  @ApiProperty({ type: ResultCountsDto, nullable: true, description: 'Rows by kind; null until completed' })
  counts: ResultCountsDto | null;

  @ApiProperty({ type: String, nullable: true })
  failure_reason: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  completed_at: string | null;

  static from(reconciliation: Reconciliation): ReconciliationDto {
    return {
      object: 'reconciliation',
      id: reconciliation.id,
      status: reconciliation.status,
      format: reconciliation.format,
      filename: reconciliation.filename,
      row_count: reconciliation.rowCount,
      period_from: reconciliation.periodFrom,
      period_to: reconciliation.periodTo,
      period_given: reconciliation.periodGiven,
      // In the documented order (jsonb keeps its own).
      counts: reconciliation.counts
        ? (Object.fromEntries(
            RESULT_KINDS.map((kind) => [kind, reconciliation.counts![kind]]),
          ) as unknown as ResultCountsDto)
        : null,
      failure_reason: reconciliation.failureReason,
      created_at: reconciliation.createdAt.toISOString(),
      completed_at: reconciliation.completedAt?.toISOString() ?? null,
    };
  }
}

export class ErpSideDto {
  @ApiProperty({ type: String, nullable: true })
  order_id: string | null;

  @ApiProperty({ type: String, nullable: true })
  po_number: string | null;

  @ApiProperty({ description: 'Fen' })
  amount: number;

  @ApiProperty({ format: 'date' })
  date: string;

  @ApiProperty({ type: String, nullable: true })
  invoice_number: string | null;
}

export class FuliSideDto {
  @ApiProperty()
  order_id: string;

  @ApiProperty()
  po_number: string;

  @ApiProperty({ description: "The order's status" })
  order_status: string;

  @ApiProperty({ description: 'What was paid for the order, in fen (0 while unpaid)' })
  amount: number;

  @ApiProperty({ type: String, format: 'date', nullable: true, description: 'The Asia/Shanghai day it was paid' })
  date: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The invoice covering the order, when it was invoiced' })
  invoice_number: string | null;
}

export class ReconciliationDifferenceDto {
  @ApiProperty({ enum: ['reconciliation_difference'] })
  object: 'reconciliation_difference';

  @ApiProperty({ description: 'Orders the list (ERP rows by row number, then orders missing in the ERP); the cursor' })
  position: number;

  @ApiProperty({ enum: DIFFERENCE_KINDS })
  kind: DifferenceKind;

  @ApiProperty({ type: Number, nullable: true, description: 'The ERP row (1-based); null for missing_in_erp' })
  row_number: number | null;

  @ApiProperty({ type: Number, nullable: true, description: 'For a duplicate: the first row naming the same order' })
  duplicate_of_row: number | null;

  @ApiProperty({
    type: ErpSideDto,
    nullable: true,
    description: 'The row as the ERP stated it; null for missing_in_erp',
  })
  erp: ErpSideDto | null;

  @ApiProperty({ type: FuliSideDto, nullable: true, description: "Fuli's order; null for missing_in_fuli" })
  fuli: FuliSideDto | null;

  static from(difference: ReconciliationDifference): ReconciliationDifferenceDto {
    return {
      object: 'reconciliation_difference',
      position: difference.position,
      kind: difference.kind,
      row_number: difference.rowNumber,
      duplicate_of_row: difference.duplicateOfRow,
      erp:
        difference.rowNumber === null
          ? null
          : {
              order_id: difference.erpOrderId,
              po_number: difference.erpPoNumber,
              amount: difference.erpAmount!,
              date: difference.erpDate!,
              invoice_number: difference.erpInvoiceNumber,
            },
      fuli:
        difference.fuliOrderId === null
          ? null
          : {
              order_id: difference.fuliOrderId,
              po_number: difference.fuliPoNumber!,
              order_status: difference.fuliOrderStatus!,
              amount: difference.fuliAmount!,
              date: difference.fuliDate,
              invoice_number: difference.fuliInvoiceNumber,
            },
    };
  }
}

export class ListReconciliationsQueryDto extends ListQueryDto {}

export const DOWNLOAD_FORMATS = ['json', 'csv', 'xlsx'] as const;
export type DownloadFormat = (typeof DOWNLOAD_FORMATS)[number];

/** Oldest position first; `starting_after` is the last position seen. CSV and XLSX hold every difference, unpaged. */
export class ListDifferencesQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'The position of the last difference of the previous page' })
  @IsOptional()
  @Matches(/^\d{1,9}$/, { message: 'starting_after must be a position' })
  starting_after?: string;

  @ApiPropertyOptional({ enum: DIFFERENCE_KINDS, description: 'Only differences of this kind' })
  @IsOptional()
  @IsIn(DIFFERENCE_KINDS)
  kind?: DifferenceKind;

  @ApiPropertyOptional({
    enum: DOWNLOAD_FORMATS,
    description: 'json (a page), csv or xlsx (every difference); absent: by the Accept header, else json',
  })
  @IsOptional()
  @IsIn(DOWNLOAD_FORMATS)
  format?: DownloadFormat;
}
