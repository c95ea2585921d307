import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import type { DistributionFile } from '../distribution.entity';
import { MAX_LISTED_ROW_ERRORS, type RowError } from '../recipient-rows';

export class RowErrorDto {
  @ApiProperty({ description: '1-based: the element of recipients, or the data row of the file (header not counted)' })
  row: number;

  @ApiProperty({ example: 'email' })
  field: string;

  @ApiProperty({ example: 'invalid_email' })
  code: string;

  @ApiProperty()
  message: string;
}

export class DistributionFileDto {
  @ApiProperty({ enum: ['distribution_file'] })
  object: 'distribution_file';

  @ApiProperty({ example: 'dfl_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty()
  filename: string;

  @ApiProperty({ enum: ['csv', 'xlsx'] })
  format: 'csv' | 'xlsx';

  @ApiProperty({ description: 'Data rows read (the header row not counted)' })
  row_count: number;

  @ApiProperty({ description: 'Every error found; a file with any cannot be distributed' })
  error_count: number;

  @ApiProperty({ type: [RowErrorDto], description: `The first ${MAX_LISTED_ROW_ERRORS} errors, in row order` })
  errors: RowErrorDto[];

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ format: 'date-time', description: 'After this the file is deleted; distribute before' })
  expires_at: string;

  static from(file: DistributionFile): DistributionFileDto {
    const stored = file.errors as Array<RowError | { error_count: number }>;
    const counted = stored.find((entry): entry is { error_count: number } => 'error_count' in entry);
    const errors = stored.filter((entry): entry is RowError => 'row' in entry);
    return {
      object: 'distribution_file',
      id: file.id,
      filename: file.filename,
      format: file.format,
      row_count: file.rowCount,
      error_count: counted?.error_count ?? errors.length,
      errors: errors.map(({ row, field, code, message }) => ({ row, field, code, message })),
      created_at: file.createdAt.toISOString(),
      expires_at: file.expiresAt.toISOString(),
    };
  }
}

export class UploadFileQueryDto {
  @ApiProperty({ description: 'The file name, for the record (e.g. recipients.xlsx)', maxLength: 255 })
  @IsString()
  @Length(1, 255)
  filename: string;
}
