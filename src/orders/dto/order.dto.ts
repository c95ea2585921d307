import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, Length } from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';
import { BatchDto } from './batch.dto';
import type { Order, OrderLine } from '../order.entity';
import { ORDER_STATUSES, type OrderStatus } from '../order-state';
import { PAYMENT_METHODS } from './create-order.dto';

export class OrderLineDto {
  @ApiProperty({ example: 1 })
  line_no: number;

  @ApiProperty()
  product_id: string;

  @ApiProperty({ description: 'fen per card' })
  face_value: number;

  @ApiProperty()
  quantity: number;

  @ApiProperty({ description: 'face_value × quantity, fen' })
  face_total: number;

  @ApiProperty({ type: String, nullable: true })
  greeting: string | null;

  @ApiProperty()
  design: string;

  static from(line: OrderLine): OrderLineDto {
    return {
      line_no: line.lineNo,
      product_id: line.productId,
      face_value: line.faceValue,
      quantity: line.quantity,
      face_total: line.faceTotal,
      greeting: line.greeting,
      design: line.design,
    };
  }
}

export class MaskedPurchaserDto {
  @ApiProperty({ example: '张*' }) name: string;
  @ApiProperty({ example: 'resident_id' }) id_type: string;
  @ApiProperty({ example: '110***********1234' }) id_number: string;
  @ApiProperty({ example: '138****5678' }) phone: string;
}

export class OrderDto {
  @ApiProperty({ enum: ['order'] })
  object: 'order';

  @ApiProperty({ example: 'ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty()
  enterprise_id: string;

  @ApiProperty()
  po_number: string;

  @ApiProperty({ enum: ORDER_STATUSES })
  status: OrderStatus;

  @ApiProperty({ example: 'CNY' })
  currency: string;

  @ApiProperty({ description: 'Σ face value × quantity, fen' })
  face_total: number;

  @ApiProperty({ description: 'Enterprise discount applied, basis points' })
  discount_bps: number;

  @ApiProperty({ description: 'round half up (face_total × discount_bps / 10000), fen' })
  discount_total: number;

  @ApiProperty({ description: 'face_total − discount_total, fen' })
  payable: number;

  @ApiProperty({ enum: PAYMENT_METHODS })
  payment_method: string;

  @ApiProperty({ description: 'Bank transfers received for this order so far, fen (bank_transfer orders)' })
  amount_transferred: number;

  @ApiProperty({ type: [OrderLineDto] })
  lines: OrderLineDto[];

  @ApiProperty({ type: [BatchDto], description: 'Issuance progress, one batch per line once the order is paid' })
  issuance: BatchDto[];

  @ApiPropertyOptional({ type: MaskedPurchaserDto, nullable: true })
  purchaser: MaskedPurchaserDto | null;

  @ApiProperty()
  created_by_client_id: string;

  @ApiProperty({ type: String, nullable: true, description: 'Client that approved or rejected the order' })
  decided_by_client_id: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  decided_at: string | null;

  @ApiProperty({ type: String, nullable: true })
  rejection_reason: string | null;

  @ApiProperty({ type: String, nullable: true })
  cancellation_reason: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  paid_at: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  cancelled_at: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ format: 'date-time' })
  updated_at: string;

  static from(order: Order, lines: OrderLine[], amountTransferred: number, issuance: BatchDto[] = []): OrderDto {
    return {
      object: 'order',
      id: order.id,
      enterprise_id: order.enterpriseId,
      po_number: order.poNumber,
      status: order.status,
      currency: order.currency,
      face_total: order.faceTotal,
      discount_bps: order.discountBps,
      discount_total: order.discountTotal,
      payable: order.payable,
      payment_method: order.paymentMethod,
      amount_transferred: amountTransferred,
      lines: lines.map((line) => OrderLineDto.from(line)),
      issuance,
      purchaser: order.purchaserMasked,
      created_by_client_id: order.createdByClientId,
      decided_by_client_id: order.decidedByClientId,
      decided_at: order.decidedAt?.toISOString() ?? null,
      rejection_reason: order.rejectionReason,
      cancellation_reason: order.cancellationReason,
      paid_at: order.paidAt?.toISOString() ?? null,
      cancelled_at: order.cancelledAt?.toISOString() ?? null,
      created_at: order.createdAt.toISOString(),
      updated_at: order.updatedAt.toISOString(),
    };
  }
}

export class ListOrdersQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ enum: ORDER_STATUSES })
  @IsOptional()
  @IsIn(ORDER_STATUSES)
  status?: OrderStatus;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 64)
  po_number?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Created at or after' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_gte?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Created before' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_lt?: string;
}

export class ReasonDto {
  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  reason?: string;
}
