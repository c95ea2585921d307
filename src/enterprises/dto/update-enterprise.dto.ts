import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsFenAmount } from '../../common/validation-codes';
import type { EnterpriseStatus } from '../enterprise.entity';
import {
  BANK_ACCOUNT_PATTERN,
  ENTERPRISE_STATUSES,
  MAX_FEN,
  OmittableNotNull,
  PHONE_PATTERN,
  trim,
  trimToNull,
} from './fields';

/** Fields left out stay as they are; null clears an optional detail. The credit code never changes. */
export class UpdateEnterpriseDto {
  @ApiPropertyOptional({ maxLength: 200 })
  @OmittableNotNull()
  @Transform(trim)
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({ description: 'Invoice title (发票抬头)', maxLength: 200 })
  @OmittableNotNull()
  @Transform(trim)
  @IsString()
  @Length(1, 200)
  invoice_title?: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 300 })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @MaxLength(300)
  registered_address?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, pattern: PHONE_PATTERN.source })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @Matches(PHONE_PATTERN, { message: 'phone must be digits, spaces, hyphens or parentheses, optionally after +' })
  phone?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 100 })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @MaxLength(100)
  bank_name?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, pattern: BANK_ACCOUNT_PATTERN.source })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @Matches(BANK_ACCOUNT_PATTERN, { message: 'bank_account must be 4 to 40 digits, spaces or hyphens' })
  bank_account?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, format: 'email', maxLength: 254 })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @MaxLength(254)
  @IsEmail()
  contact_email?: string | null;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 10000,
    description: 'Discount on face value in basis points',
  })
  @OmittableNotNull()
  @IsInt()
  @Min(0)
  @Max(10000)
  discount_bps?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, description: 'Credit line in fen' })
  @OmittableNotNull()
  @IsFenAmount({ min: 0, max: MAX_FEN })
  credit_limit?: number;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 0,
    description: 'Orders whose payable amount (fen) is above this wait for approval; null: no approval step',
  })
  @IsOptional()
  @IsFenAmount({ min: 0, max: MAX_FEN })
  approval_threshold?: number | null;

  @ApiPropertyOptional({ enum: ENTERPRISE_STATUSES, description: 'suspended: its API clients can no longer order' })
  @OmittableNotNull()
  @IsIn(ENTERPRISE_STATUSES)
  status?: EnterpriseStatus;
}
