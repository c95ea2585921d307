/**
 * The PRC invoicing rules for prepaid cards (docs/invoicing.md has them with their sources), as pure functions over
 * explicit settings; InvoicingService applies them. Every refusal is an ApiError with a machine-readable code.
 *
 * - 国家税务总局公告2016年第53号 第三条: selling or topping up a prepaid card is not a VAT sale. The seller issues an
 *   ordinary invoice (增值税普通发票) only, never a special one (专用发票), under the non-taxable item
 *   "未发生销售行为的不征税项目" 601 "预付卡销售和充值", with the tax rate column reading "不征税".
 * - The amount is what the buyer paid (face value less its discount); the face value and the discount are shown.
 * - Money going back after invoicing gets a red-letter invoice (红字发票) for that amount only, referencing the
 *   original; the original is never changed (国家税务总局公告2016年第47号, 国家税务总局公告2024年第11号 for 数电票).
 * - The total is written in Chinese capital numerals (价税合计（大写）) as 《正确填写票据和结算凭证的基本规定》
 *   describes: 元 and 角 amounts end in 整, an amount with 分 does not.
 * - The buyer's unified social credit code (GB 32100-2015) must carry a valid check character.
 */
import nzh from 'nzh/cn';
import { ApiError } from '../common/errors/api-error';
import { isValidCreditCode, normaliseCreditCode } from '../enterprises/credit-code';

/** The only invoice type a prepaid-card sale may get. */
export const INVOICE_TYPES = ['ordinary', 'special'] as const;
export type InvoiceType = (typeof INVOICE_TYPES)[number];

export const INVOICING_MODES = ['per_order', 'monthly', 'on_request'] as const;
export type InvoicingMode = (typeof INVOICING_MODES)[number];

/** The item of 国家税务总局公告2016年第53号: 未发生销售行为的不征税项目, 601 预付卡销售和充值. */
export const PREPAID_CARD_ITEM = {
  /** 数电票 writes the category between asterisks before the item name. */
  name: '*未发生销售行为的不征税项目*预付卡销售和充值',
  /** 不征税项目 601 (税收分类编码 6010000000000000000 unless configured otherwise). */
  category: '601',
  taxRate: '不征税',
  tax: 0,
} as const;

/** The ordinary e-invoice's title (数电票 普通发票). */
export const ORDINARY_INVOICE_TITLE = '电子发票（普通发票）';

/** Settings of the seller and the issuer, from AppConfig (INVOICE_*). */
export interface InvoiceSettings {
  sellerName: string;
  sellerTaxId: string;
  sellerAddress: string;
  sellerPhone: string;
  sellerBank: string;
  sellerAccount: string;
  /** Six digits that, with the year, prefix every number: numbers are gapless per (issuer, year). */
  issuerCode: string;
  /** 税收分类编码 of the item (19 digits, starting with 601). */
  taxClassificationCode: string;
  /** 开票人 printed on the invoice. */
  drawer: string;
}

/** What an invoice says of one order: signed amounts (red-letter invoices carry negative ones). */
export interface InvoiceLine {
  orderId: string;
  poNumber: string;
  item: string;
  taxClassificationCode: string;
  taxRate: string;
  /** Face value of the cards, fen. */
  faceValue: number;
  /** Discount given, fen. */
  discount: number;
  /** What was paid: faceValue − discount, fen; the invoiced amount. */
  amount: number;
  tax: number;
}

/** 422 special_invoice_not_allowed for anything but an ordinary invoice. */
export function assertOrdinaryInvoice(type: InvoiceType | undefined): void {
  if (type !== undefined && type !== 'ordinary') {
    throw ApiError.unprocessable(
      'special_invoice_not_allowed',
      'Prepaid-card sales get ordinary invoices only (国家税务总局公告2016年第53号): no special VAT invoice (专用发票)',
      { invoice_type: type },
    );
  }
}

/** The buyer's taxpayer id, normalised; 422 invalid_taxpayer_id unless a credit code with a valid check character. */
export function checkedTaxpayerId(input: string): string {
  const code = normaliseCreditCode(input);
  if (!isValidCreditCode(code)) {
    throw ApiError.unprocessable(
      'invalid_taxpayer_id',
      'taxpayer_id must be an 18-character unified social credit code with a valid check character (GB 32100-2015)',
    );
  }
  return code;
}

/**
 * The line of one order: the amount paid after discount (never the face value when they differ), face value and
 * discount shown, 不征税, tax 0. `sign` -1 makes the red-letter line of money going back.
 */
export function invoiceLine(
  settings: Pick<InvoiceSettings, 'taxClassificationCode'>,
  order: { orderId: string; poNumber: string; faceValue: number; amount: number },
  sign: 1 | -1 = 1,
): InvoiceLine {
  if (!Number.isSafeInteger(order.amount) || !Number.isSafeInteger(order.faceValue)) {
    throw new RangeError('invoice amounts are integer fen');
  }
  if (order.amount <= 0 || order.faceValue < order.amount) {
    throw new RangeError(`order ${order.orderId}: amount ${order.amount} must be positive and at most the face value`);
  }
  return {
    orderId: order.orderId,
    poNumber: order.poNumber,
    item: PREPAID_CARD_ITEM.name,
    taxClassificationCode: settings.taxClassificationCode,
    taxRate: PREPAID_CARD_ITEM.taxRate,
    faceValue: sign * order.faceValue,
    discount: sign * (order.faceValue - order.amount),
    amount: sign * order.amount,
    tax: PREPAID_CARD_ITEM.tax,
  };
}

export interface InvoiceTotals {
  faceValue: number;
  discount: number;
  amount: number;
  tax: number;
  /** 价税合计: amount + tax (the tax is 0). */
  total: number;
}

export function totalsOf(lines: readonly InvoiceLine[]): InvoiceTotals {
  const sum = (pick: (line: InvoiceLine) => number) => lines.reduce((acc, line) => acc + pick(line), 0);
  const amount = sum((line) => line.amount);
  const tax = sum((line) => line.tax);
  return {
    faceValue: sum((line) => line.faceValue),
    discount: sum((line) => line.discount),
    amount,
    tax,
    total: amount + tax,
  };
}

/** Fen as yuan with two decimals, e.g. 1000005 → "10000.05", -1010 → "-10.10". */
export function formatYuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/**
 * 价税合计（大写）: e.g. 10000000 fen → 壹拾万元整, 1 → 壹分, 1010 → 壹拾元壹角整, 100000005 → 壹佰万元零伍分. A red-letter
 * (negative) total is prefixed 负.
 */
export function chineseCapitalAmount(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError('amounts are integer fen');
  const abs = Math.abs(fen);
  const words = abs === 0 ? '零元' : nzh.toMoney(formatYuan(abs), { outSymbol: false });
  return `${fen < 0 ? '负' : ''}${words}${abs % 10 === 0 ? '整' : ''}`;
}

/** The calendar year and month of an instant in Asia/Shanghai (UTC+8 all year: China has no daylight saving). */
export function shanghaiYearMonth(at: Date): { year: number; month: number } {
  const shifted = new Date(at.getTime() + 8 * 3_600_000);
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1 };
}

/** `YYYY-MM` of a month. */
export function periodOf(year: number, month: number): string {
  return `${year}-${String(month).padStart(2, '0')}`;
}

/** The instants [from, to) of a `YYYY-MM` month in Asia/Shanghai. */
export function shanghaiMonthRange(period: string): { from: Date; to: Date } {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(period);
  if (!match) throw new RangeError(`'${period}' is not a YYYY-MM month`);
  const year = Number(match[1]);
  const month = Number(match[2]);
  const from = new Date(Date.UTC(year, month - 1, 1) - 8 * 3_600_000);
  const to = new Date(Date.UTC(year, month, 1) - 8 * 3_600_000);
  return { from, to };
}

/** The month before the one `at` falls in, in Asia/Shanghai: what the monthly run on the 1st invoices. */
export function previousShanghaiMonth(at: Date): string {
  const { year, month } = shanghaiYearMonth(at);
  return month === 1 ? periodOf(year - 1, 12) : periodOf(year, month - 1);
}

/**
 * The invoice number: 20 digits, as a 数电票 number has: 2-digit year, 6-digit issuer code, 12-digit sequence. The
 * sequence is gapless per (issuer, year) and never reused (InvoicingRepository.nextNumber).
 */
export function invoiceNumber(issuerCode: string, year: number, sequence: number): string {
  if (!/^\d{6}$/.test(issuerCode)) throw new RangeError('the issuer code is six digits');
  if (!Number.isSafeInteger(sequence) || sequence < 1 || sequence >= 1e12)
    throw new RangeError('sequence out of range');
  return `${String(year % 100).padStart(2, '0')}${issuerCode}${String(sequence).padStart(12, '0')}`;
}

/**
 * How much of `returned` fen a red-letter invoice credits on an order invoiced for `invoiced` of which `credited` is
 * already credited: the refunded amount only, never more than what is left on the invoice.
 */
export function creditableAmount(returned: number, invoiced: number, credited: number): number {
  return Math.max(0, Math.min(returned, invoiced - credited));
}

/** The share of `face` that `amount` of `paid` returns, rounded half up, for the face value a red line shows. */
export function proportionalFace(amount: number, paid: number, face: number): number {
  if (paid <= 0) return amount;
  return Math.min(face, Math.floor((amount * face * 2 + paid) / (paid * 2)));
}
