import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { STATEMENT_FORMATS, type StatementFormat } from './statement.dto';

export const SETTLEMENT_FORMATS = ['csv', 'xlsx'] as const;
export type SettlementFormat = (typeof SETTLEMENT_FORMATS)[number];

export class DailyReportQueryDto {
  @ApiProperty({ description: 'The calendar day in Asia/Shanghai (YYYY-MM-DD)', example: '2026-12-01' })
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'date must be a day, YYYY-MM-DD (Asia/Shanghai)' })
  date: string;

  @ApiPropertyOptional({
    enum: STATEMENT_FORMATS,
    description:
      'json (default), csv or xlsx. Wins over the Accept header (application/json, text/csv, ' +
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet).',
  })
  @IsOptional()
  @IsIn(STATEMENT_FORMATS)
  format?: StatementFormat;
}

export class ChannelSettlementQueryDto {
  @ApiProperty({ description: 'The calendar day in Asia/Shanghai (YYYY-MM-DD)', example: '2026-12-01' })
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'date must be a day, YYYY-MM-DD (Asia/Shanghai)' })
  date: string;

  @ApiPropertyOptional({
    enum: SETTLEMENT_FORMATS,
    description: 'csv (default) or xlsx; wins over the Accept header',
  })
  @IsOptional()
  @IsIn(SETTLEMENT_FORMATS)
  format?: SettlementFormat;
}

/** The card float (value outstanding on live cards) at the start and the end of the day, in fen. */
export class ReportFloatDto {
  @ApiProperty({ type: 'integer', description: '−Σ card_float lines booked before the day' })
  opening: number;

  @ApiProperty({ type: 'integer', description: '−Σ card_float lines booked before the end of the day' })
  closing: number;

  @ApiProperty({ type: 'integer', description: 'closing − opening: −Σ card_float lines of the day' })
  change: number;
}

/** What one redemption channel redeemed in the day (its settlement), in fen. */
export class ChannelSettlementDto {
  @ApiProperty({ description: 'The redemption channel: the API client that debited', example: 'cli_01J…' })
  channel_id: string;

  @ApiProperty({ type: 'string', nullable: true, description: "The API client's name" })
  channel_name: string | null;

  @ApiProperty({ type: 'integer' }) debits: number;
  @ApiProperty({ type: 'integer', description: 'Σ of its debits' }) debited: number;
  @ApiProperty({ type: 'integer' }) reversals: number;
  @ApiProperty({ type: 'integer', description: 'Σ its reversals gave back' }) reversed: number;
  @ApiProperty({ type: 'integer', description: 'debited − reversed: what the channel settles for the day' })
  net: number;
}

/** Value redeemed in the day (revenue_redeemed), in fen, and per channel. */
export class ReportRedeemedDto {
  @ApiProperty({ type: 'integer', description: 'Σ of card_debit entries (−Σ revenue_redeemed)' }) debited: number;
  @ApiProperty({ type: 'integer', description: 'Σ of card_debit_reversal entries' }) reversed: number;
  @ApiProperty({ type: 'integer', description: 'debited − reversed (−Σ revenue_redeemed of the day)' }) net: number;
  @ApiProperty({
    type: 'integer',
    description: "net − Σ of the channels' net: 0 unless a debit was booked without its redemption record (a defect)",
  })
  unattributed: number;

  @ApiProperty({ type: [ChannelSettlementDto] })
  channels: ChannelSettlementDto[];
}

/** Value returned in the day, in fen. */
export class ReportRefundsDto {
  @ApiProperty({ type: 'integer', description: 'Orders cancelled after payment: back to prepaid balances and credit' })
  orders: number;

  @ApiProperty({ type: 'integer', description: 'Unused cards voided: their price back to prepaid balances and credit' })
  voided_cards: number;

  @ApiProperty({ type: 'integer', description: 'Card balances refunded to their holders (赎回, card_refunds_payable)' })
  card_holders: number;
}

/** Σ of one account's lines in the day's entries of one kind (debit positive, credit negative). */
export class ReportLedgerMovementDto {
  @ApiProperty({ example: 'card_debit' }) kind: string;
  @ApiProperty({ example: 'revenue_redeemed' }) account: string;
  @ApiProperty({ type: 'integer' }) entries: number;
  @ApiProperty({ type: 'integer' }) amount: number;
}

/** GET /v1/admin/reports/daily: the platform's day, every figure a Σ over the ledger. */
export class DailyReportDto {
  @ApiProperty({ enum: ['daily_report'] }) object: 'daily_report';
  @ApiProperty({ example: '2026-12-01' }) date: string;
  @ApiProperty({ description: 'Start of the day (included)' }) from: string;
  @ApiProperty({ description: 'End of the day (excluded)' }) to: string;
  @ApiProperty({ enum: ['CNY'] }) currency: 'CNY';
  @ApiProperty({ type: ReportFloatDto, description: 'Float outstanding' }) card_float: ReportFloatDto;
  @ApiProperty({ type: 'integer', description: 'Face value of the cards minted (cards_issued)' }) issued: number;
  @ApiProperty({ type: ReportRedeemedDto }) redeemed: ReportRedeemedDto;
  @ApiProperty({ type: 'integer', description: 'Breakage recognised, net (expiry less reactivation): −Σ breakage' })
  breakage: number;

  @ApiProperty({ type: ReportRefundsDto }) refunds: ReportRefundsDto;
  @ApiProperty({ type: [ReportLedgerMovementDto], description: 'Every figure above comes from these sums' })
  ledger: ReportLedgerMovementDto[];
}
