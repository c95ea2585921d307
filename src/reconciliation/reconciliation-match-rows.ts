import { isId } from '../common/ids';

/** Rows of one upload, at most (RECONCILIATION_MAX_ROWS may lower it). */
export const MAX_RECONCILIATION_ROWS = 100_000;
/** Row errors listed in the 422; the total is always given beside them. */
export const MAX_LISTED_ROW_ERRORS = 1_000;
/** The largest amount a row may state: 10^13 fen (100 billion CNY), far above any order. */
const MAX_AMOUNT_FEN = 10_000_000_000_000;
const PO_NUMBER_PATTERN = /^[\x21-\x7e]{1,64}$/;
const INVOICE_NUMBER_MAX = 64;

/** The columns of an upload (the first row of a file, the keys of a JSON record); any other column is ignored. */
export const RECONCILIATION_COLUMNS = [
  'order_id',
  'po_number',
  'amount_fen',
  'amount_cny',
  'date',
  'invoice_number',
] as const;

/** The codes a row can fail with (README, "Reconciling against your ERP"). */
export const RECONCILIATION_ROW_ERROR_CODES = [
  'order_reference_required',
  'invalid_order_id',
  'invalid_po_number',
  'amount_required',
  'invalid_amount',
  'date_required',
  'invalid_date',
  'invalid_invoice_number',
] as const;
export type ReconciliationRowErrorCode = (typeof RECONCILIATION_ROW_ERROR_CODES)[number];

export interface ReconciliationRowError {
  /** 1-based: the data row of the file (the header not counted), or the element of `records`. */
  row: number;
  field: string;
  code: ReconciliationRowErrorCode;
  message: string;
}

/** A checked row: the order reference (an order id or else a PO number), the amount in fen, the day. */
export interface ErpRow {
  rowNumber: number;
  orderId: string | null;
  poNumber: string | null;
  amount: number;
  /** YYYY-MM-DD. */
  date: string;
  invoiceNumber: string | null;
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = (typeof value === 'number' ? String(value) : typeof value === 'string' ? value : '').trim();
  return trimmed === '' ? null : trimmed;
}

/** Fen from `amount_fen` (a whole number) or `amount_cny` (yuan with at most two decimals), or why not. */
export function parseAmount(
  fen: string | null,
  cny: string | null,
): number | { code: ReconciliationRowErrorCode; field: string; message: string } {
  if (fen !== null && cny !== null) {
    return { code: 'invalid_amount', field: 'amount_fen', message: 'Give amount_fen or amount_cny, not both' };
  }
  let amount: number;
  if (fen !== null) {
    if (!/^\d{1,14}$/.test(fen)) {
      return { code: 'invalid_amount', field: 'amount_fen', message: 'amount_fen must be a whole number of fen' };
    }
    amount = Number(fen);
  } else if (cny !== null) {
    const match = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(cny);
    if (!match) {
      return {
        code: 'invalid_amount',
        field: 'amount_cny',
        message: 'amount_cny must be yuan with at most two decimals and no separators, like 1234.50',
      };
    }
    amount = Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
  } else {
    return { code: 'amount_required', field: 'amount_fen', message: 'Give the amount in amount_fen or amount_cny' };
  }
  if (amount > MAX_AMOUNT_FEN) {
    return {
      code: 'invalid_amount',
      field: fen !== null ? 'amount_fen' : 'amount_cny',
      message: 'The amount is too large',
    };
  }
  return amount;
}

/** A calendar day as YYYY-MM-DD (also read: YYYY/MM/DD, and an XLSX date cell), or null when it is none. */
export function parseDay(value: string): string | null {
  const match = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:T00:00:00(?:\.000)?Z)?$/.exec(value);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  if (year < 2000 || year > 2999) return null;
  return date.toISOString().slice(0, 10);
}

/**
 * Checks the rows of one upload as they stream in: each row becomes an ErpRow or row errors. Also keeps what the
 * upload as a whole needs: the earliest and latest date (the period when none is given), and which columns any row
 * filled at all (a column no row fills is a missing column, not 100,000 row errors).
 */
export class ReconciliationRowsChecker {
  readonly errors: ReconciliationRowError[] = [];
  errorCount = 0;
  earliest: string | null = null;
  latest: string | null = null;
  private readonly filled = new Set<string>();

  /** The checked row, or null when it failed (its errors recorded). */
  add(record: Record<string, unknown>, rowNumber: number): ErpRow | null {
    const values = Object.fromEntries(RECONCILIATION_COLUMNS.map((column) => [column, text(record[column])])) as Record<
      (typeof RECONCILIATION_COLUMNS)[number],
      string | null
    >;
    for (const column of RECONCILIATION_COLUMNS) if (values[column] !== null) this.filled.add(column);
    const before = this.errorCount;
    const fail = (field: string, code: ReconciliationRowErrorCode, message: string) => {
      this.errorCount++;
      if (this.errors.length < MAX_LISTED_ROW_ERRORS) this.errors.push({ row: rowNumber, field, code, message });
    };

    const orderId = values.order_id;
    const poNumber = values.po_number;
    if (orderId === null && poNumber === null) {
      fail('po_number', 'order_reference_required', 'Give the order as po_number or order_id');
    }
    if (orderId !== null && !isId('order', orderId)) {
      fail('order_id', 'invalid_order_id', 'order_id must be a Fuli order id (ord_ and 26 characters)');
    }
    if (poNumber !== null && !PO_NUMBER_PATTERN.test(poNumber)) {
      fail('po_number', 'invalid_po_number', 'po_number must be 1 to 64 visible ASCII characters');
    }
    const amount = parseAmount(values.amount_fen, values.amount_cny);
    if (typeof amount !== 'number') fail(amount.field, amount.code, amount.message);
    let date: string | null = null;
    if (values.date === null) fail('date', 'date_required', 'Give the date as YYYY-MM-DD');
    else {
      date = parseDay(values.date);
      if (date === null) fail('date', 'invalid_date', 'date must be a calendar day as YYYY-MM-DD');
    }
    const invoiceNumber = values.invoice_number;
    if (invoiceNumber !== null && invoiceNumber.length > INVOICE_NUMBER_MAX) {
      fail(
        'invoice_number',
        'invalid_invoice_number',
        `invoice_number must be at most ${INVOICE_NUMBER_MAX} characters`,
      );
    }
    if (this.errorCount > before || typeof amount !== 'number' || date === null) return null;
    if (this.earliest === null || date < this.earliest) this.earliest = date;
    if (this.latest === null || date > this.latest) this.latest = date;
    return { rowNumber, orderId, poNumber, amount, date, invoiceNumber };
  }

  /** The columns no row filled of those every row needs: an order reference, an amount, a date. */
  missingColumns(): string[] {
    const missing: string[] = [];
    if (!this.filled.has('order_id') && !this.filled.has('po_number')) missing.push('po_number or order_id');
    if (!this.filled.has('amount_fen') && !this.filled.has('amount_cny')) missing.push('amount_fen or amount_cny');
    if (!this.filled.has('date')) missing.push('date');
    return missing;
  }
}
