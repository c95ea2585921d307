import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { MAX_PAGE_SIZE } from '../../common/pagination/pagination';
import type { IssuanceBatch, BatchStatus } from '../issuance.entity';
import type { Card, CardStatus } from '../../cards/card.entity';

export class BatchDto {
  @ApiProperty({ enum: ['batch'] }) object: 'batch';
  @ApiProperty({ example: 'bat_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' }) id: string;
  @ApiProperty() order_id: string;
  @ApiProperty() line_no: number;
  @ApiProperty({ enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] }) status: BatchStatus;
  @ApiProperty({ description: 'Cards in the batch' }) count: number;
  @ApiProperty({ description: 'Cards minted so far' }) issued_count: number;
  @ApiProperty({ description: 'fen per card' }) face_value: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Cards per second since the batch started' })
  rate: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Seconds to completion at the current rate' })
  eta_seconds: number | null;
  @ApiProperty({ type: String, nullable: true }) failure_reason: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) started_at: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) completed_at: string | null;

  static from(batch: IssuanceBatch, now = Date.now()): BatchDto {
    const end = batch.completedAt?.getTime() ?? now;
    const elapsed = batch.startedAt ? (end - batch.startedAt.getTime()) / 1000 : 0;
    const rate = elapsed > 0 && batch.issuedCount > 0 ? Math.round(batch.issuedCount / elapsed) : null;
    const remaining = batch.count - batch.issuedCount;
    return {
      object: 'batch',
      id: batch.id,
      order_id: batch.orderId,
      line_no: batch.lineNo,
      status: batch.status,
      count: batch.count,
      issued_count: batch.issuedCount,
      face_value: batch.faceValue,
      rate,
      eta_seconds: remaining === 0 ? 0 : rate ? Math.ceil(remaining / rate) : null,
      failure_reason: batch.failureReason,
      started_at: batch.startedAt?.toISOString() ?? null,
      completed_at: batch.completedAt?.toISOString() ?? null,
    };
  }
}

/** What anyone with cards:read may see of a card: never its code or PIN. */
export class CardDto {
  @ApiProperty({ enum: ['card'] }) object: 'card';
  @ApiProperty({ description: 'Public serial: digits with a Luhn check digit', example: '100000000017' })
  serial: string;
  @ApiProperty() order_id: string;
  @ApiProperty({ description: 'fen' }) face_value: number;
  @ApiProperty({ description: 'fen' }) balance: number;
  @ApiProperty() status: CardStatus;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) expires_at: string | null;
  @ApiProperty({ format: 'date-time' }) issued_at: string;
  @ApiProperty({ type: String, nullable: true, description: "The channel's holder account the card is bound to" })
  holder_ref: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The card that replaced this one' })
  replaced_by: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The card this one replaces' })
  replaces: string | null;

  static from(card: Card): CardDto {
    return {
      object: 'card',
      serial: String(card.serial),
      order_id: card.orderId,
      face_value: card.faceValue,
      balance: card.balance,
      status: card.status,
      expires_at: card.expiresAt?.toISOString() ?? null,
      issued_at: card.issuedAt.toISOString(),
      holder_ref: card.holderRef ?? null,
      replaced_by: card.replacedBy === null || card.replacedBy === undefined ? null : String(card.replacedBy),
      replaces: card.replaces === null || card.replaces === undefined ? null : String(card.replaces),
    };
  }
}

export class CardPageDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [CardDto] }) data: CardDto[];
  @ApiProperty() has_more: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'Pass as starting_after for the next page' })
  next_cursor: string | null;
}

/** Cards are listed in serial order; the cursor is the last serial seen. */
export class ListCardsQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Serial of the last card of the previous page' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  // Beyond this a Number no longer names one serial (and Postgres' bigint overflows).
  @Max(Number.MAX_SAFE_INTEGER)
  starting_after?: number;
}
