import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import ExcelJS from 'exceljs';
import type { DailyReportDto } from './dto/operator-report.dto';
import type { ChannelSettlementLineRow } from './operator-report.repository';
import { yuanText } from './statement-files';

const BOM = '\uFEFF';
const CNY_FORMAT = '#,##0.00;[Red]-#,##0.00';

/** Text a spreadsheet would run as a formula (= + - @, tab, CR first) gets a leading apostrophe (CSV injection). */
export function formulaSafe(text: string | null): string {
  if (text === null) return '';
  return /^[-=+@\t\r]/.test(text) ? `'${text}` : text;
}

/** One figure of a daily report file. */
export interface DailyReportRow {
  section: string;
  name: string;
  detail: string;
  count: number | null;
  /** fen */
  amount: number;
}

export const DAILY_REPORT_COLUMNS = ['section', 'name', 'detail', 'count', 'amount'] as const;

/** The report's figures, one per row, in the JSON's order: the file a spreadsheet reads back equals the JSON. */
export function dailyReportRows(report: DailyReportDto): DailyReportRow[] {
  const row = (section: string, name: string, amount: number, detail = '', count: number | null = null) => ({
    section,
    name,
    detail,
    count,
    amount,
  });
  return [
    row('card_float', 'opening', report.card_float.opening),
    row('card_float', 'closing', report.card_float.closing),
    row('card_float', 'change', report.card_float.change),
    row('issued', 'issued', report.issued),
    row('redeemed', 'debited', report.redeemed.debited),
    row('redeemed', 'reversed', report.redeemed.reversed),
    row('redeemed', 'net', report.redeemed.net),
    row('redeemed', 'unattributed', report.redeemed.unattributed),
    row('breakage', 'breakage', report.breakage),
    row('refunds', 'orders', report.refunds.orders),
    row('refunds', 'voided_cards', report.refunds.voided_cards),
    row('refunds', 'card_holders', report.refunds.card_holders),
    ...report.redeemed.channels.flatMap((channel) => [
      row('channel_debited', channel.channel_id, channel.debited, channel.channel_name ?? '', channel.debits),
      row('channel_reversed', channel.channel_id, channel.reversed, channel.channel_name ?? '', channel.reversals),
      row('channel_net', channel.channel_id, channel.net, channel.channel_name ?? ''),
    ]),
    ...report.ledger.map((movement) =>
      row('ledger', movement.kind, movement.amount, movement.account, movement.entries),
    ),
  ];
}

/** The daily report as CSV (UTF-8 with BOM): amounts in CNY with two decimals. */
export function dailyReportCsv(report: DailyReportDto): Readable {
  const rows = dailyReportRows(report).map((row) => [
    row.section,
    row.name,
    formulaSafe(row.detail),
    row.count === null ? '' : String(row.count),
    yuanText(row.amount),
  ]);
  return Readable.from([BOM + stringify([[...DAILY_REPORT_COLUMNS], ...rows])], { objectMode: false });
}

/** The daily report as XLSX: a frozen header, counts as integers, amounts as CNY. */
export function dailyReportXlsx(report: DailyReportDto): Readable {
  return xlsxOf(
    'daily report',
    [
      { header: 'section', width: 18 },
      { header: 'name', width: 30 },
      { header: 'detail', width: 30 },
      { header: 'count', width: 10, numFmt: '0' },
      { header: 'amount', width: 18, numFmt: CNY_FORMAT },
    ],
    (async function* () {
      for (const row of dailyReportRows(report))
        yield [row.section, row.name, row.detail || null, row.count, row.amount / 100];
    })(),
  );
}

export const SETTLEMENT_COLUMNS = [
  'occurred_at',
  'redemption_id',
  'kind',
  'reference',
  'enterprise_id',
  'reverses_id',
  'amount',
] as const;

/** A settlement line's amount as the channel settles it: a debit owes, a reversal gives back. */
const signedAmount = (line: ChannelSettlementLineRow) => (line.kind === 'debit' ? 1 : -1) * Number(line.amount);

/**
 * A channel's settlement file as CSV (UTF-8 with BOM): its debits (positive) and reversals (negative) of the day in
 * time order, then their Σ (the report's channel net). Streamed a page at a time.
 */
export function channelSettlementCsv(lines: AsyncIterable<ChannelSettlementLineRow>): Readable {
  async function* chunks(): AsyncGenerator<string> {
    yield BOM + stringify([[...SETTLEMENT_COLUMNS]]);
    let total = 0;
    let batch: string[][] = [];
    for await (const line of lines) {
      total += signedAmount(line);
      batch.push([
        line.occurred_at,
        line.id,
        line.kind,
        formulaSafe(line.reference),
        line.enterprise_id,
        line.reverses_id ?? '',
        yuanText(signedAmount(line)),
      ]);
      if (batch.length === 1_000) {
        yield stringify(batch);
        batch = [];
      }
    }
    yield stringify([...batch, ['total', '', '', '', '', '', yuanText(total)]]);
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** A spreadsheet date showing Asia/Shanghai wall time (Excel dates carry no zone). */
const shanghaiWallTime = (occurredAt: string) => new Date(new Date(occurredAt).getTime() + 8 * 3_600_000);

/** A channel's settlement file as XLSX: the CSV's rows, typed (a date, text, CNY amounts), and the totals row. */
export function channelSettlementXlsx(lines: AsyncIterable<ChannelSettlementLineRow>): Readable {
  async function* rows(): AsyncGenerator<unknown[]> {
    let total = 0;
    for await (const line of lines) {
      total += signedAmount(line);
      yield [
        shanghaiWallTime(line.occurred_at),
        line.id,
        line.kind,
        line.reference,
        line.enterprise_id,
        line.reverses_id,
        signedAmount(line) / 100,
      ];
    }
    yield ['total', null, null, null, null, null, total / 100];
  }
  return xlsxOf(
    'settlement',
    SETTLEMENT_COLUMNS.map((header) => ({
      header,
      width: header === 'occurred_at' ? 22 : header === 'amount' ? 16 : 30,
      numFmt: header === 'occurred_at' ? 'yyyy-mm-dd hh:mm:ss' : header === 'amount' ? CNY_FORMAT : undefined,
    })),
    rows(),
  );
}

/**
 * An XLSX of one sheet written by exceljs' streaming WorkbookWriter as rows arrive: a bold frozen header, formats
 * set once per column, each row committed at once; waits for the reader whenever the output is full.
 */
function xlsxOf(
  name: string,
  columns: Array<{ header: string; width: number; numFmt?: string }>,
  rows: AsyncIterable<unknown[]>,
): Readable {
  const output = new PassThrough();
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: output, useStyles: true, useSharedStrings: false });
  const sheet = workbook.addWorksheet(name, { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = columns.map(({ header, width, numFmt }) => ({
    header,
    key: header,
    width,
    style: numFmt ? { numFmt } : {},
  }));
  sheet.getRow(1).font = { bold: true };
  sheet.getRow(1).commit();
  const write = async () => {
    for await (const values of rows) {
      sheet.addRow(values).commit();
      if (output.writableNeedDrain) await once(output, 'drain');
    }
    sheet.commit();
    await workbook.commit();
  };
  write().catch((error: unknown) => output.destroy(error instanceof Error ? error : new Error(String(error))));
  return output;
}
