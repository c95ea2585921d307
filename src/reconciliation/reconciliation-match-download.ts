import { PassThrough, Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import ExcelJS from 'exceljs';
import { spreadsheetSafe } from '../common/uploads/tabular-file';
import type { ReconciliationDifference } from './reconciliation.entity';

/** The columns of the CSV and XLSX downloads: the JSON difference flattened, amounts in fen. */
export const DIFFERENCE_COLUMNS = [
  'position',
  'kind',
  'row_number',
  'duplicate_of_row',
  'erp_order_id',
  'erp_po_number',
  'erp_amount',
  'erp_date',
  'erp_invoice_number',
  'fuli_order_id',
  'fuli_po_number',
  'fuli_order_status',
  'fuli_amount',
  'fuli_date',
  'fuli_invoice_number',
] as const;
type Column = (typeof DIFFERENCE_COLUMNS)[number];

function cells(difference: ReconciliationDifference): Record<Column, string | number | null> {
  return {
    position: difference.position,
    kind: difference.kind,
    row_number: difference.rowNumber,
    duplicate_of_row: difference.duplicateOfRow,
    erp_order_id: difference.erpOrderId,
    erp_po_number: difference.erpPoNumber,
    erp_amount: difference.erpAmount,
    erp_date: difference.erpDate,
    erp_invoice_number: difference.erpInvoiceNumber,
    fuli_order_id: difference.fuliOrderId,
    fuli_po_number: difference.fuliPoNumber,
    fuli_order_status: difference.fuliOrderStatus,
    fuli_amount: difference.fuliAmount,
    fuli_date: difference.fuliDate,
    fuli_invoice_number: difference.fuliInvoiceNumber,
  };
}

/** Text the ERP supplied (PO and invoice numbers) ends up in Excel: a leading = + - @ is neutralised. */
function safeText(value: string | number | null): string | number | null {
  return typeof value === 'string' ? spreadsheetSafe(value) : value;
}

/** CSV, UTF-8 with a BOM (Excel reads it as UTF-8), as the pages arrive; an empty cell is null. */
export function differencesCsv(pages: AsyncIterable<ReconciliationDifference[]>): Readable {
  const rows = Readable.from(
    (async function* () {
      for await (const page of pages) {
        for (const difference of page) {
          const row = cells(difference);
          yield DIFFERENCE_COLUMNS.map((column) => {
            const value = safeText(row[column]);
            return value === null ? '' : String(value);
          });
        }
      }
    })(),
  );
  const csv = stringify({ header: true, columns: [...DIFFERENCE_COLUMNS], bom: true });
  rows.on('error', (error) => csv.destroy(error));
  return rows.pipe(csv);
}

/**
 * XLSX (exceljs streaming writer, one sheet "differences"): numbers as numbers (amounts in fen), text as text, the
 * header row frozen; rows are written as the pages arrive.
 */
export function differencesXlsx(pages: AsyncIterable<ReconciliationDifference[]>): Readable {
  const output = new PassThrough();
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: output,
    useStyles: false,
    useSharedStrings: false,
  });
  const sheet = workbook.addWorksheet('differences', { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = DIFFERENCE_COLUMNS.map((column) => ({ header: column, key: column }));
  void (async () => {
    for await (const page of pages) {
      for (const difference of page) {
        const row = cells(difference);
        sheet.addRow(DIFFERENCE_COLUMNS.map((column) => safeText(row[column]))).commit();
      }
    }
    sheet.commit();
    await workbook.commit();
  })().catch((error: unknown) => output.destroy(error as Error));
  return output;
}
