import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { MAX_PAGE_SIZE } from '../../common/pagination/pagination';
import type { Card, CardStatus } from '../card.entity';

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

  @ApiPropertyOptional({ description: 'Serial of the last card of the previous page (`next_cursor`)' })
  @IsOptional()
  @IsString()
  // A cursor is a string, as everywhere; at most 18 digits so that Postgres' bigint never overflows.
  @Matches(/^\d{1,18}$/, { message: 'starting_after must be a card serial' })
  starting_after?: string;
}
