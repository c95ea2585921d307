import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { MAX_PAGE_SIZE } from '../../common/pagination/pagination';

export const STATEMENT_FORMATS = ['json', 'csv', 'xlsx'] as const;
export type StatementFormat = (typeof STATEMENT_FORMATS)[number];

const PERIOD_BOUND =
  'A calendar day in Asia/Shanghai (`2026-12-01`: for `from` its start, for `to` its end, so `from=2026-12-01&to=2026-12-31` is December) ' +
  'or an exact instant with its offset (`2026-12-01T00:00:00+08:00`, `…Z`; `from` included, `to` excluded).';

/** A statement's period. */
export class StatementPeriodQueryDto {
  @ApiProperty({ description: `Start of the period. ${PERIOD_BOUND}`, example: '2026-12-01' })
  @IsString()
  from: string;

  @ApiProperty({ description: `End of the period. ${PERIOD_BOUND}`, example: '2026-12-31' })
  @IsString()
  to: string;
}

export class StatementQueryDto extends StatementPeriodQueryDto {
  @ApiPropertyOptional({
    enum: STATEMENT_FORMATS,
    description:
      'json (the figures), csv or xlsx (every line, streamed, with a totals row). Wins over the Accept header ' +
      '(application/json, text/csv, application/vnd.openxmlformats-officedocument.spreadsheetml.sheet).',
  })
  @IsOptional()
  @IsIn(STATEMENT_FORMATS)
  format?: StatementFormat;
}

export class StatementLinesQueryDto extends StatementPeriodQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'The next_cursor of the previous page; the next page follows it' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, { message: 'starting_after must be a next_cursor of this list' })
  starting_after?: string;
}

/** An enterprise's four positions at an instant, in fen, as the enterprise sees them. */
export class StatementBalancesDto {
  @ApiProperty({ type: 'integer', description: 'Prepaid funds not spent (as GET /v1/balance prepaid_balance)' })
  prepaid_balance: number;

  @ApiProperty({ type: 'integer', description: 'Credit drawn and not repaid (as GET /v1/balance credit_used)' })
  credit_used: number;

  @ApiProperty({ type: 'integer', description: 'Transfers held for unpaid bank_transfer orders (held_for_orders)' })
  held_for_orders: number;

  @ApiProperty({ type: 'integer', description: "Value left on the enterprise's cards (issued, not spent or expired)" })
  card_float: number;
}

/** What one kind of ledger entry moved in the period: the change of each position, in fen. */
export class StatementMovementDto extends StatementBalancesDto {
  @ApiProperty({
    description:
      'The ledger entry kind: deposit, order_transfer, credit_repayment, order_payment (its prepaid_balance, ' +
      'credit_used and held_for_orders columns are the payments by prepaid balance, credit line and bank transfer), ' +
      'order_refund, order_deposit_release, cards_issued, card_debit (redeemed), card_debit_reversal, cards_voided, ' +
      'card_refund, cards_expired (breakage), card_reactivation, card_replacement',
    example: 'deposit',
  })
  kind: string;

  @ApiProperty({ type: 'integer', description: 'How many ledger entries of this kind' })
  entries: number;
}

export class StatementDto {
  @ApiProperty({ enum: ['statement'] })
  object: 'statement';

  @ApiProperty({ enum: ['CNY'] })
  currency: 'CNY';

  @ApiProperty()
  enterprise_id: string;

  @ApiProperty({ format: 'date-time', description: 'Start of the period (included)' })
  from: string;

  @ApiProperty({ format: 'date-time', description: 'End of the period (excluded)' })
  to: string;

  @ApiProperty({ type: StatementBalancesDto, description: 'Positions at `from`' })
  opening: StatementBalancesDto;

  @ApiProperty({ type: [StatementMovementDto], description: 'Movements by ledger entry kind, alphabetical' })
  movements: StatementMovementDto[];

  @ApiProperty({ type: StatementBalancesDto, description: 'Σ of movements: closing − opening, position by position' })
  total_movements: StatementBalancesDto;

  @ApiProperty({ type: StatementBalancesDto, description: 'Positions at `to`: opening + total_movements' })
  closing: StatementBalancesDto;
}

/** One movement on a statement: a ledger entry moving the enterprise's funds or minting its cards, or a card's movement. */
export class StatementLineDto extends StatementBalancesDto {
  @ApiProperty({ description: 'When it was booked, Asia/Shanghai time', example: '2026-12-01T09:30:00.000000+08:00' })
  occurred_at: string;

  @ApiProperty({ enum: ['ledger', 'card'], description: 'ledger: a journal entry; card: one card movement' })
  source: 'ledger' | 'card';

  @ApiProperty({ description: 'The ledger entry id, or the card movement number' })
  id: string;

  @ApiProperty({ description: 'Ledger entry kind, or card movement kind (debit, reverse, void, refund, expire…)' })
  kind: string;

  @ApiProperty({ type: String, nullable: true })
  order_id: string | null;

  @ApiProperty({ type: String, nullable: true })
  po_number: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The invoice covering the order, when invoiced' })
  invoice_number: string | null;

  @ApiProperty({ type: String, nullable: true })
  card_serial: string | null;

  @ApiProperty({ type: String, nullable: true, description: "The redemption channel's reference (debits, reversals)" })
  redemption_reference: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The ledger entry memo' })
  memo: string | null;
}
