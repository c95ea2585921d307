import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { parse } from 'csv-parse';
import ExcelJS from 'exceljs';

/**
 * Reading uploaded tables (recipient files, ERP records for reconciliation): a CSV or XLSX body streamed record by
 * record, never held whole, XLSX cells read as text (a formula as its formula, never evaluated).
 */

export const CSV_CONTENT_TYPE = 'text/csv';
export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** The upload is over the byte or row limit: answered 413 file_too_large. */
export class FileTooLarge extends Error {}

/** Counts the bytes going through, and fails the stream past `limit`. */
export class ByteLimit extends Transform {
  bytes = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) done(new FileTooLarge(`over ${this.limit} bytes`));
    else done(null, chunk);
  }
}

/** The text of an XLSX cell as the uploader sees it: a formula as its formula (`=…`), never its result. */
export function cellText(value: ExcelJS.CellValue): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) {
    const iso = value.toISOString();
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
  }
  if ('formula' in value && typeof value.formula === 'string') return `=${value.formula}`;
  if ('sharedFormula' in value && typeof value.sharedFormula === 'string') return `=${value.sharedFormula}`;
  if ('richText' in value && Array.isArray(value.richText)) return value.richText.map((run) => run.text).join('');
  if ('text' in value && typeof value.text === 'string') return value.text;
  if ('error' in value) return String(value.error);
  return null;
}

/** CSV records (header row → field names), UTF-8 with or without a BOM. */
export function csvRecords(input: Readable): AsyncIterable<Record<string, unknown>> {
  const parser = parse({
    columns: (header: string[]) => header.map((name) => name.trim()),
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
  });
  input.pipe(parser);
  return parser as AsyncIterable<Record<string, unknown>>;
}

/**
 * The records of `records`, or the error `source` fails with (over the limit, connection lost): the parsers are
 * piped from it, and a pipe does not pass a source's error on, so it is raced against every step.
 */
export function failingWith<T>(source: Readable, records: AsyncIterable<T>): AsyncIterable<T> {
  // Listening from now on (not from the first read): an error before it must not go unhandled.
  const failed = new Promise<never>((_, reject) => source.once('error', reject));
  failed.catch(() => undefined);
  return (async function* () {
    const iterator = records[Symbol.asyncIterator]();
    for (;;) {
      const next = await Promise.race([iterator.next(), failed]);
      if (next.done) return;
      yield next.value;
    }
  })();
}

/** The first worksheet's records, streamed (exceljs WorkbookReader): the first row is the header. */
export async function* xlsxRecords(input: Readable): AsyncGenerator<Record<string, unknown>> {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, {
    worksheets: 'emit',
    sharedStrings: 'cache',
    hyperlinks: 'ignore',
    styles: 'ignore',
    entries: 'ignore',
  });
  for await (const worksheet of reader) {
    let header: Array<string | null> | null = null;
    for await (const row of worksheet as AsyncIterable<ExcelJS.Row>) {
      const values = row.values as ExcelJS.CellValue[];
      if (!header) {
        header = values.map((value) => cellText(value)?.trim() ?? null);
        continue;
      }
      const record: Record<string, unknown> = {};
      let any = false;
      for (let column = 1; column < values.length; column++) {
        const name = header[column];
        const text = cellText(values[column]);
        if (!name || text === null) continue;
        record[name] = text;
        any = true;
      }
      if (any) yield record;
    }
    // Only the first worksheet.
    return;
  }
}

/** Reads and drops what is left of a refused upload (so the client gets its answer), up to 4× the limit. */
export function drain(body: Readable, limit: number): void {
  let bytes = 0;
  body.unpipe();
  body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > 4 * limit) body.destroy();
  });
  body.resume();
}

/**
 * A cell a spreadsheet would run as a formula (starting = + - @, or a tab or carriage return that hides one)
 * gets a leading apostrophe: employee names and references come from the uploader and end up in Excel.
 */
export function spreadsheetSafe(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}
