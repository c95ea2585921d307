import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import archiver from 'archiver';
import type { StatementBalancesDto } from './dto/statement.dto';
import { STATEMENT_FILE_COLUMNS } from './statement.repository';

/** Deflate level of the XLSX: 1 is several times faster than the default 6 on sheet XML, for a somewhat larger file. */
const XLSX_DEFLATE_LEVEL = 1;

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
const DATE_FORMAT = 'yyyy-mm-dd hh:mm:ss';
const BOLD = 3;
const BOLD_CNY = 4;
const COLUMN_LETTERS = 'ABCDEFGHIJKLMN';

const CONTENT_TYPES = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>`;
const ROOT_RELS = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`;
const WORKBOOK = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="statement" sheetId="1" r:id="rId1"/></sheets></workbook>`;
const WORKBOOK_RELS = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`;
/** Cell styles by index: 0 plain, SHEET_STYLE.date, SHEET_STYLE.cny, BOLD (header), BOLD_CNY (totals). */
const STYLES = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="2"><numFmt numFmtId="164" formatCode="${CNY_FORMAT}"/><numFmt numFmtId="165" formatCode="${DATE_FORMAT}"/></numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="164" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>`;

function inlineText(ref: string, text: string, style = 0): string {
  return `<c r="${ref}"${style ? ` s="${style}"` : ''} t="inlineStr"><is><t>${text}</t></is></c>`;
}

/** The sheet: frozen bold header, column widths, the database's rows, the totals row (the ledger's totals). */
async function* sheetXml(rows: Readable, totals: StatementBalancesDto, counted: { rows: number }) {
  const widths = STATEMENT_FILE_COLUMNS.map((column) => (column === 'memo' ? 48 : column === 'occurred_at' ? 22 : 18));
  yield (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ' +
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">' +
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>' +
    '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>' +
    widths.map((width, i) => `<col min="${i + 1}" max="${i + 1}" width="${width}" customWidth="1"/>`).join('') +
    '</cols><sheetData><row r="1">' +
    STATEMENT_FILE_COLUMNS.map((column, i) => inlineText(`${COLUMN_LETTERS[i]}1`, column, BOLD)).join('') +
    '</row>'
  );
  for await (const chunk of rows) {
    const bytes = chunk as Buffer;
    // COPY's text format: one row a line (the rows hold no raw newline: sheetRowSelect escapes them).
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) counted.rows++;
    yield bytes;
  }
  const r = counted.rows + 2;
  const cells = STATEMENT_FILE_COLUMNS.map((column, i) => {
    if (column === 'occurred_at') return inlineText(`A${r}`, 'total', BOLD);
    if (!(AMOUNT_COLUMNS as readonly string[]).includes(column)) return '';
    const fen = totals[column as (typeof AMOUNT_COLUMNS)[number]];
    return `<c r="${COLUMN_LETTERS[i]}${r}" s="${BOLD_CNY}"><v>${yuanText(fen)}</v></c>`;
  });
  yield `<row r="${r}">${cells.join('')}</row></sheetData></worksheet>`;
}

/**
 * The XLSX file: a ZIP (archiver, deflating as the sheet streams in) of a fixed workbook, styles and the one sheet,
 * whose rows the database wrote as sheet XML (statementSheetCopySql: typed cells, a date, text, CNY amounts with two
 * decimals) between a frozen bold header and a totals row (the ledger's totals, which the lines add up to). Node only
 * deflates; memory stays bounded (the reader's pace flows back to the COPY).
 */
export function xlsxStatement(rows: Readable, totals: StatementBalancesDto): Readable {
  const counted = { rows: 0 };
  const archive = archiver('zip', { zlib: { level: XLSX_DEFLATE_LEVEL } });
  const sheet = Readable.from(sheetXml(rows, totals, counted), { objectMode: false });
  // A sheet that fails (the COPY broke) fails the file, rather than ending it short.
  sheet.once('error', (error) => archive.destroy(error));
  archive
    .append(CONTENT_TYPES, { name: '[Content_Types].xml' })
    .append(ROOT_RELS, { name: '_rels/.rels' })
    .append(WORKBOOK, { name: 'xl/workbook.xml' })
    .append(WORKBOOK_RELS, { name: 'xl/_rels/workbook.xml.rels' })
    .append(STYLES, { name: 'xl/styles.xml' })
    .append(sheet, { name: 'xl/worksheets/sheet1.xml' });
  // finalize() ends the archive once the sheet has streamed through; its failures are the stream's errors too.
  archive.finalize().catch((error: Error) => archive.destroy(error));
  // A reader that goes away stops the database's COPY too (its connection is then dropped, not reused).
  archive.once('close', () => rows.destroy());
  return archive;
}
