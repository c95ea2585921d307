import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsInt, IsOptional, IsString, Length, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsFenAmount } from '../../common/validation-codes';
import { IsCreditCodeFormat, normaliseCreditCodeInput } from './credit-code.validator';
import { BANK_ACCOUNT_PATTERN, MAX_FEN, PHONE_PATTERN, trim, trimToNull } from './fields';

export class CreateEnterpriseDto {
  @ApiProperty({ example: '福州示例科技有限公司', maxLength: 200 })
  @Transform(trim)
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({
    description:
      'Unified social credit code (统一社会信用代码, GB 32100-2015); trimmed and upper-cased. A wrong check character is a 422 invalid_credit_code',
    example: '91350100M000100Y43',
    minLength: 18,
    maxLength: 18,
  })
  @Transform(normaliseCreditCodeInput)
  @IsString()
  @IsCreditCodeFormat()
  credit_code: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    description: 'Invoice title (发票抬头); defaults to name',
    maxLength: 200,
  })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @Length(1, 200)
  invoice_title?: string | null;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: 300,
    description: 'Registered address, printed on invoices',
  })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @MaxLength(300)
  registered_address?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: '0591-87654321', pattern: PHONE_PATTERN.source })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @Matches(PHONE_PATTERN, { message: 'phone must be digits, spaces, hyphens or parentheses, optionally after +' })
  phone?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 100, example: '中国工商银行福州分行' })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @MaxLength(100)
  bank_name?: string | null;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: '1402 0210 0920 0012 345',
    pattern: BANK_ACCOUNT_PATTERN.source,
  })
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
    description: 'Discount on face value in basis points (100 = 1%)',
    minimum: 0,
    maximum: 10000,
    default: 0,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10000)
  discount_bps?: number;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'Credit line in fen',
    minimum: 0,
    default: 0,
    example: 5_000_000,
  })
  @IsOptional()
  @IsFenAmount({ min: 0, max: MAX_FEN })
  credit_limit?: number;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    description:
      'Orders whose payable amount (fen) is above this wait for approval by another client; null: no approval',
    minimum: 0,
    example: 10_000_000,
  })
  @IsOptional()
  @IsFenAmount({ min: 0, max: MAX_FEN })
  approval_threshold?: number | null;
}
