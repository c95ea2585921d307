import { documentFields, renderJson, renderPdf, renderXml, sha256Hex, type InvoiceDocument } from './invoice-documents';
import { chineseCapitalAmount, invoiceLine } from './invoice-policy';

const line = invoiceLine(
  { taxClassificationCode: '6010000000000000000' },
  { orderId: 'ord_1', poNumber: 'PO<&>"1"', faceValue: 100_000, amount: 97_000 },
);
const doc: InvoiceDocument = {
  id: 'inv_1',
  number: '26310000000000000007',
  kind: 'blue',
  invoiceType: 'ordinary',
  issuedAt: new Date('2026-11-30T17:00:00Z'),
  buyer: {
    title: '示例科技有限公司',
    taxpayer_id: '91310000MA1FL8DM00',
    address: null,
    phone: null,
    bank: null,
    account: null,
  },
  seller: { name: '福利卡', taxpayer_id: '91310000MA1FL0000N', address: 'a', phone: 'b', bank: 'c', account: 'd' },
  lines: [line],
  amountInWords: chineseCapitalAmount(97_000),
  originalNumber: null,
  note: null,
  drawer: '系统',
};

describe('invoice documents', () => {
  it('share one set of fields: totals, 不征税, 大写, the Shanghai issue time', () => {
    expect(documentFields(doc)).toMatchObject({
      number: '26310000000000000007',
      title: '电子发票（普通发票）',
      issued_at: '2026-12-01T01:00:00.000+08:00',
      face_value: 100_000,
      discount: 3_000,
      amount: 97_000,
      tax: 0,
      total_yuan: '970.00',
      total_in_words: '玖佰柒拾元整',
      lines: [{ tax_rate: '不征税', tax: 0, amount_yuan: '970.00' }],
    });
  });

  it('render JSON canonically and XML with every field escaped', () => {
    const json = JSON.parse(renderJson(doc).toString('utf8')) as Record<string, unknown>;
    expect(json).toEqual(JSON.parse(JSON.stringify(documentFields(doc))));
    const xml = renderXml(doc).toString('utf8');
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<Invoice>')).toBe(true);
    expect(xml).toContain('<PoNumber>PO&lt;&amp;&gt;&quot;1&quot;</PoNumber>');
    expect(xml).toContain('<TaxRate>不征税</TaxRate>');
    expect(xml).toContain('<Address/>');
    expect(xml).toContain('<Amount>97000</Amount>');
  });

  it('render the PDF with a subset of the CJK font embedded, the same bytes for the same invoice', async () => {
    const first = await renderPdf(doc);
    expect(first.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const raw = first.toString('latin1');
    expect(raw).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSansSC-Regular/);
    expect(raw).toContain('/FontFile2');
    expect(first.length).toBeLessThan(100_000);
    expect(sha256Hex(await renderPdf(doc))).toBe(sha256Hex(first));
  });
});
