import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

export class CardTransactionDto {
  @ApiProperty({ enum: ['card_transaction'] }) object: 'card_transaction';
  @ApiProperty() id: string;
  @ApiProperty() serial: string;
  @ApiProperty({
    enum: [
      'bind',
      'debit',
      'reverse',
      'freeze',
      'unfreeze',
      'lost',
      'replacement',
      'replaced',
      'void',
      'refund',
      'expire',
      'reactivate',
    ],
  })
  kind: string;
  @ApiProperty({ description: 'Signed change of the balance, fen' }) amount: number;
  @ApiProperty({ description: 'fen' }) balance_after: number;
  @ApiProperty({ type: String, nullable: true }) redemption_id: string | null;
  @ApiProperty({ type: String, nullable: true }) holder_ref: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The other card of a replacement' })
  related_serial: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export class CardTransactionPageDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [CardTransactionDto] }) data: CardTransactionDto[];
  @ApiProperty() has_more: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'Pass as starting_after for the next page' })
  next_cursor: string | null;
}

/** Oldest first; the cursor is the last transaction id seen. */
export class ListCardTransactionsQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'Id of the last transaction of the previous page' })
  @IsOptional()
  // 18 digits: every bigint id up to 10^18, and never one out of bigint's range.
  @Matches(/^\d{1,18}$/, { message: 'starting_after must be a transaction id' })
  starting_after?: string;
}
