import { ApiProperty } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import type { StatementRun, StatementRunFormat, StatementRunStatus } from '../statement-run.entity';
import { StatementPeriodQueryDto } from './statement.dto';

export const STATEMENT_RUN_FORMATS = ['csv', 'xlsx'] as const;

/** POST /v1/statement-runs: the period and the file's format. */
export class CreateStatementRunDto extends StatementPeriodQueryDto {
  @ApiProperty({ enum: STATEMENT_RUN_FORMATS, description: 'The file: csv or xlsx, as GET /v1/statements writes it' })
  @IsIn(STATEMENT_RUN_FORMATS)
  format: StatementRunFormat;
}

/** A statement file built by a worker, and where to download it once ready. */
export class StatementRunDto {
  @ApiProperty({ enum: ['statement_run'] }) object: 'statement_run';
  @ApiProperty({ example: 'stm_01J…' }) id: string;
  @ApiProperty({
    enum: ['building', 'ready', 'failed'],
    description: 'building, then ready (statement.ready is sent) or failed',
  })
  status: StatementRunStatus;

  @ApiProperty({ enum: STATEMENT_RUN_FORMATS }) format: StatementRunFormat;
  @ApiProperty({ description: 'Start of the period (included)' }) from: string;
  @ApiProperty({ description: 'End of the period (excluded)' }) to: string;
  @ApiProperty({ type: 'integer', nullable: true }) size_bytes: number | null;
  @ApiProperty({ type: 'string', nullable: true, description: 'SHA-256 of the file, hex' }) sha256: string | null;
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Once ready: GET it with the same bearer token (scope reconciliation:read) until expires_at',
  })
  download_url: string | null;

  @ApiProperty({ type: 'string', nullable: true }) failure_reason: string | null;
  @ApiProperty() created_at: string;
  @ApiProperty({ type: 'string', nullable: true }) completed_at: string | null;
  @ApiProperty({ type: 'string', nullable: true, description: 'When the file is deleted' }) expires_at: string | null;

  static from(run: StatementRun, publicUrl: string): StatementRunDto {
    return {
      object: 'statement_run',
      id: run.id,
      status: run.status,
      format: run.format,
      from: run.periodFrom.toISOString(),
      to: run.periodTo.toISOString(),
      size_bytes: run.sizeBytes,
      sha256: run.sha256,
      download_url: run.status === 'ready' ? statementRunDownloadUrl(publicUrl, run.id) : null,
      failure_reason: run.failureReason,
      created_at: run.createdAt.toISOString(),
      completed_at: run.completedAt?.toISOString() ?? null,
      expires_at: run.expiresAt?.toISOString() ?? null,
    };
  }
}

export function statementRunDownloadUrl(publicUrl: string, id: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/v1/statement-runs/${id}/file`;
}
