import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import type { PlatformPeriodSums } from '../ledger/ledger.repository';
import type { StatementFormat } from './dto/statement.dto';
import type { DailyReportDto, SettlementFormat } from './dto/operator-report.dto';
import { channelSettlementCsv, channelSettlementXlsx, dailyReportCsv, dailyReportXlsx } from './operator-report-files';
import {
  type ChannelLineCursor,
  type ChannelSettlementLineRow,
  OperatorReportRepository,
} from './operator-report.repository';
import { shanghaiDayPeriod } from './statement-period';
import { CSV_CONTENT_TYPE, type StatementFile, XLSX_CONTENT_TYPE } from './statement.service';

/** Lines a settlement file reads per statement: memory holds one page. */
const SETTLEMENT_PAGE = 5_000;

/** Σ in SQL comes back as text; fen stay safe integers (−0 is 0). */
function fen(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`report figure ${text} is not a safe integer of fen`);
  return value === 0 ? 0 : value;
}

/**
 * The report of a day from the ledger's sums and the channel settlement (one snapshot). Every headline figure is a
 * Σ over `ledger` (the day's lines per kind and account), so it ties out by construction; the float's identity
 * (opening + the day's card_float lines = closing) is checked, a mismatch being a defect in the SQL.
 */
export function dailyReportOf(
  date: string,
  from: Date,
  to: Date,
  ledger: PlatformPeriodSums,
  channels: Array<{
    channel_id: string;
    channel_name: string | null;
    debits: string;
    debited: string;
    reversals: string;
    reversed: string;
  }>,
): DailyReportDto {
  const movements = ledger.movements.map((row) => ({
    kind: row.kind,
    account: row.account,
    entries: fen(row.entries),
    amount: fen(row.amount),
  }));
  const sum = (accounts: readonly string[], kinds?: readonly string[]) =>
    movements
      .filter((row) => accounts.includes(row.account) && (!kinds || kinds.includes(row.kind)))
      .reduce((total, row) => total + row.amount, 0);
  // A credit-normal account's figure is −Σ (0 − Σ: never −0).
  const credit = (accounts: readonly string[], kinds?: readonly string[]) => 0 - sum(accounts, kinds);
  const opening = fen(ledger.float_opening);
  const closing = fen(ledger.float_closing);
  const change = credit(['card_float']);
  if (opening + change !== closing) throw new Error('daily report: float opening + movements ≠ closing');
  const settlement = channels.map((row) => {
    const debited = fen(row.debited);
    const reversed = fen(row.reversed);
    return {
      channel_id: row.channel_id,
      channel_name: row.channel_name,
      debits: fen(row.debits),
      debited,
      reversals: fen(row.reversals),
      reversed,
      net: debited - reversed,
    };
  });
  const net = credit(['revenue_redeemed']);
  const toEnterprises = ['prepaid', 'receivable'];
  return {
    object: 'daily_report',
    date,
    from: from.toISOString(),
    to: to.toISOString(),
    currency: 'CNY',
    card_float: { opening, closing, change },
    issued: credit(['card_float'], ['cards_issued']),
    redeemed: {
      debited: credit(['revenue_redeemed'], ['card_debit']),
      reversed: sum(['revenue_redeemed'], ['card_debit_reversal']),
      net,
      unattributed: net - settlement.reduce((total, channel) => total + channel.net, 0),
      channels: settlement,
    },
    breakage: credit(['breakage']),
    refunds: {
      orders: credit(toEnterprises, ['order_refund']),
      voided_cards: credit(toEnterprises, ['cards_voided']),
      card_holders: credit(['card_refunds_payable'], ['card_refund']),
    },
    ledger: movements,
  };
}

/**
 * The operator's daily reports (README "Finance: operator reports"): the platform's day for the issuer's own
 * finance, and the settlement file of each redemption channel's day.
 */
@Injectable()
export class OperatorReportService {
  constructor(private readonly reports: OperatorReportRepository) {}

  /** GET /v1/admin/reports/daily as JSON. */
  async daily(_ctx: RequestContext, date: string): Promise<DailyReportDto> {
    const { from, to } = shanghaiDayPeriod(date);
    const { ledger, channels } = await this.reports.period(from, to);
    return dailyReportOf(date, from, to, ledger, channels);
  }

  /** GET /v1/admin/reports/daily as CSV or XLSX: the JSON's figures, one per row. */
  async dailyFile(ctx: RequestContext, date: string, format: Exclude<StatementFormat, 'json'>): Promise<StatementFile> {
    const report = await this.daily(ctx, date);
    const fileName = `fuli-daily-report-${date}`;
    return format === 'csv'
      ? { contentType: CSV_CONTENT_TYPE, fileName: `${fileName}.csv`, body: dailyReportCsv(report) }
      : { contentType: XLSX_CONTENT_TYPE, fileName: `${fileName}.xlsx`, body: dailyReportXlsx(report) };
  }

  /** GET /v1/admin/reports/daily/channels/{id}: every debit and reversal of the channel's day, and their Σ. */
  async channelFile(
    ctx: RequestContext,
    channelId: string,
    date: string,
    format: SettlementFormat,
  ): Promise<StatementFile> {
    const { from, to } = shanghaiDayPeriod(date);
    // Client ids are plain tokens (configured operator ids need not be ULIDs); anything else names no client.
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(channelId) || (await this.reports.channelName(ctx, channelId)) === undefined) {
      throw ApiError.notFound('channel', channelId);
    }
    const reports = this.reports;
    async function* lines(): AsyncGenerator<ChannelSettlementLineRow> {
      let after: ChannelLineCursor | null = null;
      for (;;) {
        const page = await reports.channelLines(channelId, from, to, after, SETTLEMENT_PAGE);
        yield* page;
        if (page.length < SETTLEMENT_PAGE) return;
        const last = page[page.length - 1];
        after = { at: last.cursor_at, id: last.id };
      }
    }
    const fileName = `fuli-settlement-${channelId}-${date}`;
    return format === 'csv'
      ? { contentType: CSV_CONTENT_TYPE, fileName: `${fileName}.csv`, body: channelSettlementCsv(lines()) }
      : { contentType: XLSX_CONTENT_TYPE, fileName: `${fileName}.xlsx`, body: channelSettlementXlsx(lines()) };
  }
}
