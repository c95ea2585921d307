import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import ExcelJS from 'exceljs';
import type { StatementBalancesDto } from './dto/statement.dto';
import { STATEMENT_FILE_COLUMNS } from './statement.repository';

/** The UTF-8 byte order mark: Excel opens a CSV as UTF-8 (Chinese intact) only when it starts with one. */
const BOM = '\uFEFF';
const AMOUNT_COLUMNS = ['prepaid_balance', 'credit_used', 'held_for_orders', 'card_float'] as const;

/** Fen as CNY with two decimals, exactly (no float arithmetic). */
export function yuanText(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** The last row of a statement file: Σ of each amount column (closing − opening), labelled. */
function totalsCells(totals: StatementBalancesDto): string[] {
  return STATEMENT_FILE_COLUMNS.map((column) => {
    if (column === 'occurred_at') return 'total';
    return (AMOUNT_COLUMNS as readonly string[]).includes(column)
      ? yuanText(totals[column as (typeof AMOUNT_COLUMNS)[number]])
      : '';
  });
}

/**
 * The CSV file: BOM and header (csv-stringify), the lines as the database's COPY wrote them (RFC 4180 quoting, free
 * text already guarded against formulas), then the totals row. Chunks pass through as they come: bounded memory.
 */
export function csvStatement(lines: Readable, totals: StatementBalancesDto): Readable {
  async function* chunks(): AsyncGenerator<Buffer | string> {
    yield BOM + stringify([[...STATEMENT_FILE_COLUMNS]]);
    for await (const chunk of lines) yield chunk as Buffer;
    yield stringify([totalsCells(totals)]);
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** Excel number format of CNY amounts: two decimals, thousands separated. */
const CNY_FORMAT = '#,##0.00;[Red]-#,##0.00';
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/** A spreadsheet date showing Asia/Shanghai wall time (Excel dates carry no zone). */
function shanghaiWallTime(occurredAt: string): Date {
  return new Date(new Date(occurredAt).getTime() + SHANGHAI_OFFSET_MS);
}

/**
 * The XLSX file, written by exceljs' streaming WorkbookWriter as the lines arrive (each row committed at once):
 * typed columns (a date, text, CNY amounts with two decimals), a frozen header, a totals row (the
 * ledger's totals, which the lines add up to). The lines come as the database's CSV (unguarded text: a spreadsheet cell typed as text is never a
 * formula). Waits for the reader whenever the output is full, so memory stays bounded.
 */
export function xlsxStatement(lines: Readable, totals: StatementBalancesDto): Readable {
  const output = new PassThrough();
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: output, useStyles: true, useSharedStrings: false });
  const sheet = workbook.addWorksheet('statement', { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = STATEMENT_FILE_COLUMNS.map((column) => ({
    header: column,
    key: column,
    width: column === 'memo' ? 48 : column === 'occurred_at' ? 22 : 18,
    style: (AMOUNT_COLUMNS as readonly string[]).includes(column)
      ? { numFmt: CNY_FORMAT }
      : column === 'occurred_at'
        ? { numFmt: 'yyyy-mm-dd hh:mm:ss' }
        : {},
  }));
  sheet.getRow(1).font = { bold: true };
  sheet.getRow(1).commit();
  const amountIndex = new Set(AMOUNT_COLUMNS.map((column) => STATEMENT_FILE_COLUMNS.indexOf(column)));
  const write = async () => {
    const parser = lines.pipe(parse({ relax_column_count: false }));
    for await (const record of parser as AsyncIterable<string[]>) {
      const values = record.map((cell, index) => {
        if (index === 0) return shanghaiWallTime(cell);
        if (amountIndex.has(index)) return Number(cell);
        return cell === '' ? null : cell;
      });
      sheet.addRow(values).commit();
      if (output.writableNeedDrain) await once(output, 'drain');
    }
    const totalsRow = sheet.addRow(
      STATEMENT_FILE_COLUMNS.map((column, index) => {
        if (column === 'occurred_at') return 'total';
        if (!amountIndex.has(index)) return null;
        return totals[column as (typeof AMOUNT_COLUMNS)[number]] / 100;
      }),
    );
    totalsRow.font = { bold: true };
    totalsRow.commit();
    sheet.commit();
    await workbook.commit();
  };
  // A reader that goes away stops the database's COPY too (its connection is then dropped, not reused).
  output.once('close', () => lines.destroy());
  write().catch((error: unknown) => output.destroy(error instanceof Error ? error : new Error(String(error))));
  return output;
}
