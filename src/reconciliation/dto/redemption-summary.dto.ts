import { ApiProperty } from '@nestjs/swagger';

export const REDEMPTION_STATUSES = [
  'issued',
  'distributed',
  'bound',
  'partly_spent',
  'exhausted',
  'frozen',
  'expired',
  'voided',
  'refunded',
  'lost',
  'replaced',
] as const;

/** Card counts and amounts (fen) of one redemption status, or of all. */
export class RedemptionFiguresDto {
  @ApiProperty({ type: 'integer' })
  cards: number;

  @ApiProperty({ type: 'integer', description: 'Face value of the cards' })
  face_value: number;

  @ApiProperty({ type: 'integer', description: 'Spent: debits less reversals' })
  spent: number;

  @ApiProperty({ type: 'integer', description: 'Left on the cards now' })
  remaining: number;

  @ApiProperty({ type: 'integer', description: 'Taken by expiry, less what re-activation gave back' })
  breakage: number;

  @ApiProperty({ type: 'integer', description: 'Given back by voids and refunds (赎回)' })
  returned: number;

  @ApiProperty({ type: 'integer', description: 'Carried by a reported loss to its replacement card' })
  moved: number;
}

export class RedemptionStatusDto extends RedemptionFiguresDto {
  @ApiProperty({
    enum: REDEMPTION_STATUSES,
    description:
      'issued (not handed out), distributed (delivered to an employee), bound (to a holder, unspent), partly_spent, ' +
      'exhausted, frozen, expired, voided, refunded, lost, replaced (an expired card whose value moved to a new one)',
  })
  status: string;
}

export class RedemptionSummaryDto {
  @ApiProperty({ enum: ['redemption_summary'] })
  object: 'redemption_summary';

  @ApiProperty({ enum: ['CNY'] })
  currency: 'CNY';

  @ApiProperty({ type: [String], description: 'The orders summarised' })
  order_ids: string[];

  @ApiProperty({ type: String, nullable: true, format: 'date-time', description: 'Period start (period summaries)' })
  from: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'date-time', description: 'Period end, excluded' })
  to: string | null;

  @ApiProperty({ type: [RedemptionStatusDto], description: 'Statuses that have cards, in the order listed above' })
  by_status: RedemptionStatusDto[];

  @ApiProperty({ type: RedemptionFiguresDto })
  total: RedemptionFiguresDto;
}
