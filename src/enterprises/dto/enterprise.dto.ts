import { ApiProperty } from '@nestjs/swagger';
import type { Enterprise, EnterpriseStatus } from '../enterprise.entity';
import { ENTERPRISE_STATUSES } from './fields';

/** A tenant as the operator API shows it. */
export class EnterpriseDto {
  @ApiProperty({ enum: ['enterprise'] })
  object: 'enterprise';

  @ApiProperty({ example: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty({ example: '福州示例科技有限公司' })
  name: string;

  @ApiProperty({ example: '91350100M000100Y43', description: 'Unified social credit code, also the tax number' })
  credit_code: string;

  @ApiProperty({ enum: ENTERPRISE_STATUSES })
  status: EnterpriseStatus;

  @ApiProperty({ description: 'Invoice title (发票抬头)' })
  invoice_title: string;

  @ApiProperty({ type: String, nullable: true })
  registered_address: string | null;

  @ApiProperty({ type: String, nullable: true })
  phone: string | null;

  @ApiProperty({ type: String, nullable: true })
  bank_name: string | null;

  @ApiProperty({ type: String, nullable: true })
  bank_account: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'email' })
  contact_email: string | null;

  @ApiProperty({
    type: 'integer',
    description: 'Discount on face value in basis points (100 = 1%)',
    minimum: 0,
    maximum: 10000,
  })
  discount_bps: number;

  @ApiProperty({ type: 'integer', description: 'Credit line in fen', minimum: 0 })
  credit_limit: number;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'Orders whose payable amount (fen) is above this wait for approval; null: no approval step',
  })
  approval_threshold: number | null;

  @ApiProperty({ example: 'CNY' })
  currency: string;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ format: 'date-time' })
  updated_at: string;

  static from(this: void, enterprise: Enterprise): EnterpriseDto {
    return {
      object: 'enterprise',
      id: enterprise.id,
      name: enterprise.name,
      credit_code: enterprise.creditCode,
      status: enterprise.status,
      invoice_title: enterprise.invoiceTitle,
      registered_address: enterprise.registeredAddress,
      phone: enterprise.phone,
      bank_name: enterprise.bankName,
      bank_account: enterprise.bankAccount,
      contact_email: enterprise.contactEmail,
      discount_bps: enterprise.discountBps,
      credit_limit: enterprise.creditLimit,
      approval_threshold: enterprise.approvalThreshold,
      currency: enterprise.currency,
      created_at: enterprise.createdAt.toISOString(),
      updated_at: enterprise.updatedAt.toISOString(),
    };
  }
}
