import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { INVOICE_TYPES, INVOICING_MODES, type InvoiceType, type InvoicingMode } from '../invoice-policy';
import type { InvoiceProfile } from '../invoice.entity';

const EMAIL = /^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$/;

export class UpdateInvoiceProfileDto {
  @ApiProperty({ description: '发票抬头: the buyer name printed on invoices', example: '示例科技有限公司' })
  @IsString()
  @Length(1, 100)
  title: string;

  @ApiProperty({
    description: 'Unified social credit code (纳税人识别号), 18 characters with a valid check character',
    example: '91310000MA1FL8XQ3X',
  })
  @IsString()
  @MaxLength(32)
  taxpayer_id: string;

  @ApiPropertyOptional({ type: String, nullable: true, example: '上海市浦东新区示例路1号' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  address?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: '021-12345678' })
  @IsOptional()
  @IsString()
  @MaxLength(40)
  phone?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, description: '开户行', example: '示例银行上海分行' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  bank?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, description: '账号', example: '31001234567890' })
  @IsOptional()
  @IsString()
  @MaxLength(40)
  account?: string | null;

  @ApiProperty({
    type: [String],
    description: 'Where each invoice PDF is e-mailed (up to 10)',
    example: ['ap@example.com'],
  })
  @IsArray()
  @ArrayMaxSize(10)
  @Matches(EMAIL, { each: true, message: 'emails must be e-mail addresses' })
  emails: string[];

  @ApiProperty({
    enum: INVOICING_MODES,
    description:
      'per_order: an invoice per order when it is paid; monthly: one invoice per month for the orders paid in it ' +
      '(issued on the 1st at 02:00 Asia/Shanghai); on_request: POST /v1/invoices',
  })
  @IsIn(INVOICING_MODES)
  mode: InvoicingMode;

  @ApiPropertyOptional({
    enum: INVOICE_TYPES,
    description: 'Only `ordinary`: prepaid-card sales get no special VAT invoice (422 special_invoice_not_allowed)',
  })
  @IsOptional()
  @IsIn(INVOICE_TYPES)
  invoice_type?: InvoiceType;
}

export class InvoiceProfileDto {
  @ApiProperty({ enum: ['invoice_profile'] })
  object: 'invoice_profile';

  @ApiProperty()
  enterprise_id: string;

  @ApiProperty()
  title: string;

  @ApiProperty()
  taxpayer_id: string;

  @ApiProperty({ type: String, nullable: true })
  address: string | null;

  @ApiProperty({ type: String, nullable: true })
  phone: string | null;

  @ApiProperty({ type: String, nullable: true })
  bank: string | null;

  @ApiProperty({ type: String, nullable: true })
  account: string | null;

  @ApiProperty({ type: [String] })
  emails: string[];

  @ApiProperty({ enum: INVOICING_MODES })
  mode: InvoicingMode;

  @ApiProperty({ enum: ['ordinary'] })
  invoice_type: 'ordinary';

  @ApiProperty({ format: 'date-time' })
  updated_at: string;

  static from(profile: InvoiceProfile): InvoiceProfileDto {
    return {
      object: 'invoice_profile',
      enterprise_id: profile.enterpriseId,
      title: profile.title,
      taxpayer_id: profile.taxpayerId,
      address: profile.address,
      phone: profile.phone,
      bank: profile.bank,
      account: profile.account,
      emails: profile.emails,
      mode: profile.mode,
      invoice_type: 'ordinary',
      updated_at: profile.updatedAt.toISOString(),
    };
  }
}
