import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, Length, Matches, ValidateIf } from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';
import type { Payment, PaymentKind } from '../payment.entity';
import { idPattern } from '../../common/ids';
import { IsFenAmount } from '../../common/validation-codes';

export const PAYMENT_KINDS = [
  'deposit',
  'order_transfer',
  'credit_repayment',
] as const satisfies readonly PaymentKind[];

/** A bank transfer the operator saw arrive on the platform's account. */
export class RecordPaymentDto {
  @ApiProperty({ example: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  @Matches(idPattern('enterprise'), { message: 'enterprise_id must be an enterprise id' })
  enterprise_id: string;

  @ApiProperty({ enum: PAYMENT_KINDS })
  @IsIn(PAYMENT_KINDS)
  kind: PaymentKind;

  @ApiPropertyOptional({ description: 'Required for order_transfer' })
  @ValidateIf((dto: RecordPaymentDto) => dto.kind === 'order_transfer' || dto.order_id !== undefined)
  @Matches(idPattern('order'), { message: 'order_id must be an order id' })
  order_id?: string;

  @ApiProperty({ description: 'fen, a positive integer', example: 1_000_000 })
  @IsFenAmount()
  amount: number;

  @ApiProperty({ description: "Name on the paying account: the enterprise's own corporate account" })
  @IsString()
  @Length(1, 200)
  payer_account_name: string;

  @ApiProperty({ example: '1001 2345 6789 0123 456' })
  @IsString()
  @Length(4, 64)
  payer_account_number: string;

  @ApiProperty({
    description: "The bank's reference of the transfer; a transfer is booked once",
    example: 'CMB20261127000123',
  })
  @IsString()
  @Length(4, 100)
  bank_reference: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'When the money arrived; default now' })
  @IsOptional()
  @IsISO8601({ strict: true })
  received_at?: string;
}

export class PaymentDto {
  @ApiProperty({ enum: ['payment'] }) object: 'payment';
  @ApiProperty({ example: 'pay_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' }) id: string;
  @ApiProperty() enterprise_id: string;
  @ApiProperty({ enum: PAYMENT_KINDS }) kind: PaymentKind;
  @ApiProperty({ type: String, nullable: true }) order_id: string | null;
  @ApiProperty({ description: 'fen' }) amount: number;
  @ApiProperty({ example: 'CNY' }) currency: string;
  @ApiProperty() payer_account_name: string;
  @ApiProperty({ description: 'Last four digits only', example: '****3456' }) payer_account_number: string;
  @ApiProperty() bank_reference: string;
  @ApiProperty({ format: 'date-time' }) received_at: string;
  @ApiProperty({ format: 'date-time' }) created_at: string;

  static from(payment: Payment): PaymentDto {
    return {
      object: 'payment',
      id: payment.id,
      enterprise_id: payment.enterpriseId,
      kind: payment.kind,
      order_id: payment.orderId,
      amount: payment.amount,
      currency: payment.currency,
      payer_account_name: payment.payerAccountName,
      payer_account_number: `****${payment.payerAccountNumber.replace(/\s/g, '').slice(-4)}`,
      bank_reference: payment.bankReference,
      received_at: payment.receivedAt.toISOString(),
      created_at: payment.createdAt.toISOString(),
    };
  }
}

/** An enterprise's own payments: no enterprise filter, so another enterprise's id is refused as an unknown field. */
export class ListPaymentsQueryDto extends ListQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @Matches(idPattern('order'), { message: 'order_id must be an order id' })
  order_id?: string;
}

/** The operator's list of every enterprise's payments. */
export class AdminListPaymentsQueryDto extends ListPaymentsQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @Matches(idPattern('enterprise'), { message: 'enterprise_id must be an enterprise id' })
  enterprise_id?: string;
}
