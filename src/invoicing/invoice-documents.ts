import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { create, type Font } from 'fontkit';
import PDFDocument from 'pdfkit';
import { canonicalJson } from '../common/canonical-json';
import { formatYuan, ORDINARY_INVOICE_TITLE, totalsOf, type InvoiceLine } from './invoice-policy';
import type { InvoiceBuyer, InvoiceKind, InvoiceSeller } from './invoice.entity';

/**
 * Noto Sans SC (SIL OFL 1.1), shipped by the npm package @expo-google-fonts/noto-sans-sc as a TrueType file: no system
 * font is assumed. pdfkit embeds only the glyphs a document uses (a subset), so an invoice stays a few dozen KB.
 */
export const CJK_FONT_PATH = require.resolve('@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf');
const CJK_FONT_BOLD_PATH = require.resolve('@expo-google-fonts/noto-sans-sc/700Bold/NotoSansSC_700Bold.ttf');

let fonts: { regular: Font; bold: Font } | undefined;
/**
 * Read and parsed once per process (10 MB each), then shared by every document: fontkit caches the glyphs it has
 * parsed, and pdfkit subsets per document from the parsed font (a third of the time of parsing the file each time).
 */
function parsedFonts(): { regular: Font; bold: Font } {
  fonts ??= { regular: create(readFileSync(CJK_FONT_PATH)), bold: create(readFileSync(CJK_FONT_BOLD_PATH)) };
  return fonts;
}

/** Every field an invoice's documents show: the PDF, the XML and the JSON render exactly these. */
export interface InvoiceDocument {
  id: string;
  number: string;
  kind: InvoiceKind;
  invoiceType: 'ordinary';
  issuedAt: Date;
  buyer: InvoiceBuyer;
  seller: InvoiceSeller;
  lines: InvoiceLine[];
  amountInWords: string;
  /** The blue invoice a red-letter one credits. */
  originalNumber: string | null;
  note: string | null;
  drawer: string;
}

/** The date as printed (Asia/Shanghai). */
function shanghaiDate(at: Date): string {
  const shifted = new Date(at.getTime() + 8 * 3_600_000);
  return `${shifted.getUTCFullYear()}年${String(shifted.getUTCMonth() + 1).padStart(2, '0')}月${String(shifted.getUTCDate()).padStart(2, '0')}日`;
}

function isoShanghai(at: Date): string {
  return new Date(at.getTime() + 8 * 3_600_000).toISOString().replace('Z', '+08:00');
}

/** The structured rendering (JSON and XML share it): names as in the API, amounts in fen and yuan. */
export function documentFields(doc: InvoiceDocument) {
  const totals = totalsOf(doc.lines);
  return {
    invoice_id: doc.id,
    number: doc.number,
    title: ORDINARY_INVOICE_TITLE,
    kind: doc.kind,
    invoice_type: doc.invoiceType,
    issued_at: isoShanghai(doc.issuedAt),
    original_number: doc.originalNumber,
    buyer: doc.buyer,
    seller: doc.seller,
    lines: doc.lines.map((line) => ({
      order_id: line.orderId,
      po_number: line.poNumber,
      item: line.item,
      tax_classification_code: line.taxClassificationCode,
      face_value: line.faceValue,
      discount: line.discount,
      amount: line.amount,
      amount_yuan: formatYuan(line.amount),
      tax_rate: line.taxRate,
      tax: line.tax,
    })),
    face_value: totals.faceValue,
    discount: totals.discount,
    amount: totals.amount,
    tax: totals.tax,
    total: totals.total,
    total_yuan: formatYuan(totals.total),
    total_in_words: doc.amountInWords,
    note: doc.note,
    drawer: doc.drawer,
    currency: 'CNY',
  };
}

export function renderJson(doc: InvoiceDocument): Buffer {
  return Buffer.from(canonicalJson(documentFields(doc)), 'utf8');
}

function xmlEscape(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

/** One element per field; nested objects and arrays as nested elements (arrays' items as <Line>). */
function xmlOf(name: string, value: unknown, indent: string): string {
  const tag = name.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
  if (value === null || value === undefined) return `${indent}<${tag}/>\n`;
  if (Array.isArray(value)) {
    return `${indent}<${tag}>\n${value.map((item) => xmlOf('line', item, indent + '  ')).join('')}${indent}</${tag}>\n`;
  }
  if (typeof value === 'object') {
    const inner = Object.entries(value as Record<string, unknown>)
      .map(([key, child]) => xmlOf(key, child, indent + '  '))
      .join('');
    return `${indent}<${tag}>\n${inner}${indent}</${tag}>\n`;
  }
  const scalar = typeof value === 'string' ? value : JSON.stringify(value);
  return `${indent}<${tag}>${xmlEscape(scalar)}</${tag}>\n`;
}

export function renderXml(doc: InvoiceDocument): Buffer {
  return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${xmlOf('invoice', documentFields(doc), '')}`, 'utf8');
}

const RED = '#b3261e';
const INK = '#1a1a1a';

/** The PDF: A4 landscape-like layout of a 数电票 普通发票, one page, the CJK font subset-embedded. */
export function renderPdf(doc: InvoiceDocument): Promise<Buffer> {
  const { regular, bold } = parsedFonts();
  const fields = documentFields(doc);
  const pdf = new PDFDocument({
    size: 'A4',
    layout: 'landscape',
    margin: 36,
    compress: true,
    // Dated by the invoice, not the rendering: rendering the same invoice again gives the same bytes and digest.
    info: {
      Title: `${ORDINARY_INVOICE_TITLE} ${doc.number}`,
      Author: doc.seller.name,
      Subject: doc.id,
      CreationDate: doc.issuedAt,
    },
  });
  const chunks: Buffer[] = [];
  pdf.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
  });
  // pdfkit takes a parsed fontkit font as well as bytes (its types name only the latter).
  pdf.registerFont('cjk', regular as unknown as Buffer);
  pdf.registerFont('cjk-bold', bold as unknown as Buffer);
  const accent = doc.kind === 'red' ? RED : INK;
  const left = 36;
  const width = pdf.page.width - 72;

  pdf.font('cjk-bold').fontSize(20).fillColor(accent);
  pdf.text(doc.kind === 'red' ? `${ORDINARY_INVOICE_TITLE}（红字）` : ORDINARY_INVOICE_TITLE, left, 40, {
    width,
    align: 'center',
  });
  pdf.font('cjk').fontSize(10).fillColor(INK);
  pdf.text(`发票号码：${doc.number}`, left, 44, { width, align: 'right' });
  pdf.text(`开票日期：${shanghaiDate(doc.issuedAt)}`, left, 58, { width, align: 'right' });

  // Buyer and seller boxes.
  const boxTop = 90;
  const half = width / 2;
  pdf.rect(left, boxTop, width, 96).strokeColor(accent).stroke();
  pdf
    .moveTo(left + half, boxTop)
    .lineTo(left + half, boxTop + 96)
    .stroke();
  const party = (x: number, heading: string, rows: Array<[string, string | null]>) => {
    pdf
      .font('cjk-bold')
      .fontSize(10)
      .fillColor(accent)
      .text(heading, x + 8, boxTop + 6);
    pdf.font('cjk').fontSize(9).fillColor(INK);
    rows.forEach(([label, value], i) =>
      pdf.text(`${label}：${value ?? ''}`, x + 8, boxTop + 22 + i * 12, { width: half - 16 }),
    );
  };
  party(left, '购买方信息', [
    ['名称', doc.buyer.title],
    ['统一社会信用代码/纳税人识别号', doc.buyer.taxpayer_id],
    ['地址、电话', [doc.buyer.address, doc.buyer.phone].filter(Boolean).join(' ')],
    ['开户行及账号', [doc.buyer.bank, doc.buyer.account].filter(Boolean).join(' ')],
  ]);
  party(left + half, '销售方信息', [
    ['名称', doc.seller.name],
    ['统一社会信用代码/纳税人识别号', doc.seller.taxpayer_id],
    ['地址、电话', `${doc.seller.address} ${doc.seller.phone}`],
    ['开户行及账号', `${doc.seller.bank} ${doc.seller.account}`],
  ]);

  // Lines: item, order, face value, discount, amount, tax rate, tax.
  const columns: Array<[string, number, 'left' | 'right' | 'center']> = [
    ['项目名称', 0.3, 'left'],
    ['订单号', 0.16, 'left'],
    ['面值', 0.11, 'right'],
    ['折扣', 0.1, 'right'],
    ['金额', 0.12, 'right'],
    ['税率/征收率', 0.11, 'center'],
    ['税额', 0.1, 'right'],
  ];
  let y = boxTop + 106;
  const row = (cells: string[], font: string) => {
    let x = left;
    pdf.font(font).fontSize(9).fillColor(INK);
    cells.forEach((cell, i) => {
      const [, share, align] = columns[i];
      pdf.text(cell, x + 4, y, { width: width * share - 8, align, lineBreak: false, ellipsis: true });
      x += width * share;
    });
    y += 16;
  };
  row(
    columns.map(([title]) => title),
    'cjk-bold',
  );
  pdf
    .moveTo(left, y - 3)
    .lineTo(left + width, y - 3)
    .strokeColor(accent)
    .stroke();
  const shown = fields.lines.slice(0, 20);
  for (const line of shown) {
    row(
      [
        line.item,
        line.po_number,
        formatYuan(line.face_value),
        formatYuan(line.discount),
        line.amount_yuan,
        line.tax_rate,
        formatYuan(line.tax),
      ],
      'cjk',
    );
  }
  if (fields.lines.length > shown.length) {
    pdf
      .font('cjk')
      .fontSize(9)
      .text(`另有 ${fields.lines.length - shown.length} 行，见XML/JSON明细`, left + 4, y);
    y += 16;
  }
  y += 4;
  row(
    [
      '合计',
      '',
      formatYuan(fields.face_value),
      formatYuan(fields.discount),
      fields.total_yuan,
      '',
      formatYuan(fields.tax),
    ],
    'cjk-bold',
  );
  pdf
    .rect(left, boxTop + 100, width, y - boxTop - 96)
    .strokeColor(accent)
    .stroke();

  y += 10;
  pdf.font('cjk-bold').fontSize(11).fillColor(INK);
  pdf.text(`价税合计（大写）：${fields.total_in_words}`, left + 4, y, { continued: false });
  pdf.text(`（小写）¥${fields.total_yuan}`, left, y, { width, align: 'right' });
  y += 24;
  pdf.font('cjk').fontSize(9);
  const notes = [
    `面值合计 ${formatYuan(fields.face_value)} 元，折扣 ${formatYuan(fields.discount)} 元，实付 ${fields.total_yuan} 元（按实付金额开具）`,
    '依据国家税务总局公告2016年第53号：预付卡销售和充值，不征税，仅开具普通发票',
    ...(doc.originalNumber ? [`对应蓝字发票号码：${doc.originalNumber}`] : []),
    ...(doc.note ? [doc.note] : []),
  ];
  pdf.text(`备注：${notes.join('；')}`, left + 4, y, { width: width - 8 });
  pdf.text(`开票人：${doc.drawer}`, left + 4, pdf.page.height - 60);
  pdf.end();
  return done;
}

/**
 * The file store key (FileStorage) of an invoice document: `invoices/<yyyy>/<invoice id>.{pdf,xml,json}`, recorded in
 * invoices.pdf_path / xml_path. Invoices are kept: a tax document is archived, never expired.
 */
export function invoiceDocumentKey(invoiceId: string, year: number, extension: 'pdf' | 'xml' | 'json'): string {
  return `invoices/${year}/${invoiceId}.${extension}`;
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
