import { ApiProperty } from '@nestjs/swagger';

/** An enterprise's money with the platform, derived from the ledger when asked (never stored). */
export class BalanceDto {
  @ApiProperty({ enum: ['balance'] })
  object: 'balance';

  @ApiProperty({ enum: ['CNY'] })
  currency: 'CNY';

  @ApiProperty({
    type: 'integer',
    description: 'Prepaid funds received and not yet spent on orders, in fen',
    example: 1_250_000,
  })
  prepaid_balance: number;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description:
      'Bank transfers received for bank_transfer orders not paid yet, in fen: applied when the order is paid, released to the prepaid balance if it is cancelled or rejected',
    example: 0,
  })
  held_for_orders: number;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Credit line granted, in fen', example: 5_000_000 })
  credit_limit: number;

  @ApiProperty({ type: 'integer', description: 'Credit drawn for orders and not yet repaid, in fen', example: 800_000 })
  credit_used: number;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: 'credit_limit − credit_used, or 0 when the limit was lowered below what is used; in fen',
    example: 4_200_000,
  })
  credit_available: number;
}
