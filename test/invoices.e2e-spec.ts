import { createHash, randomInt } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from '../src/config/app-config';
import { creditCodeCheckCharacter } from '../src/enterprises/credit-code';
import { IssuanceService } from '../src/issuance/issuance.service';
import { InvoicingService } from '../src/invoicing/invoicing.service';
import { startTestApp, type TestApp } from './support/app';
import {
  createClient,
  createEnterprise,
  createProduct,
  newCreditCode,
  recordTransfer,
  TEST_PURCHASER,
  type ProductFixture,
} from './support/fixtures';
import { binaryBody } from './support/http-body';
import { pdfText, PDFTOPPM, rasterInk } from './support/pdf';

interface Invoice {
  id: string;
  number: string;
  kind: 'blue' | 'red';
  reason: string;
  amount: number;
  face_value: number;
  discount: number;
  net_amount: number;
  amount_in_words: string;
  original_invoice_id: string | null;
  credit_note_ids: string[];
  lines: Array<{
    order_id: string;
    amount: number;
    face_value: number;
    discount: number;
    tax_rate: string;
    tax: number;
  }>;
  buyer: { title: string; taxpayer_id: string };
  documents: { status: string; pdf_sha256: string | null; xml_sha256: string | null };
}

/** Invoices end to end (docs/invoicing.md): issuing in every mode, red-letter invoices, documents, delivery, operator. */
describe('invoices', () => {
  let app: TestApp;
  let operator: string;
  let product: ProductFixture;
  let registeredProduct: ProductFixture;
  let dataDir: string;
  /** This app's own issuer: numbers are gapless per (issuer, year), and other test files issue under theirs. */
  const ISSUER = String(100_000 + randomInt(899_999));

  const as = (token: string) => ({
    post: (path: string, body: object = {}, key?: string) => {
      const request = app.http.post(path).auth(token, { type: 'bearer' });
      if (key) void request.set('Idempotency-Key', key);
      return request.send(body);
    },
    put: (path: string, body: object) => app.http.put(path).auth(token, { type: 'bearer' }).send(body),
    get: (path: string) => app.http.get(path).auth(token, { type: 'bearer' }),
  });

  /** A fresh enterprise (3 % discount), funded, with a finance client holding every scope the walk-through needs. */
  async function tenant(mode?: 'per_order' | 'monthly' | 'on_request', emails: string[] = []) {
    const title = `发票测试企业${randomInt(1e6)}有限公司`;
    const creditCode = newCreditCode();
    const enterprise = await createEnterprise(app, { name: title, credit_code: creditCode, discount_bps: 300 });
    const client = await createClient(app, {
      enterprise_id: enterprise.id,
      scopes: ['orders:write', 'orders:read', 'orders:approve', 'invoices:read', 'invoices:write', 'cards:write'],
    });
    const token = await app.tokenFor(client.id, client.client_secret);
    await recordTransfer(app, operator, {
      enterprise_id: enterprise.id,
      payer_account_name: enterprise.name,
      amount: 50_000_000,
    }).expect(201);
    if (mode) {
      await as(token)
        .put('/v1/invoice-profile', { title, taxpayer_id: creditCode, address: '上海市黄浦区测试路8号', emails, mode })
        .expect(200);
    }
    return { enterprise, token, title, creditCode };
  }

  /** Places and pays (from prepaid) an order; returns it. */
  async function paidOrder(
    token: string,
    lines: Array<{ product_id: string; face_value: number; quantity: number }> = [
      { product_id: product.id, face_value: 10_000, quantity: 2 },
    ],
    { pay = true } = {},
  ) {
    const registered = lines.some((line) => line.product_id === registeredProduct.id);
    const placed = await as(token)
      .post('/v1/orders', {
        po_number: `INV-${Date.now()}-${randomInt(1e9)}`,
        payment_method: 'prepaid_balance',
        ...(registered ? { purchaser: TEST_PURCHASER } : {}),
        lines,
      })
      .expect(201);
    if (pay) await as(token).post(`/v1/orders/${placed.body.id}/pay`).expect(200);
    return placed.body as { id: string; payable: number; face_total: number; discount_total: number };
  }

  async function invoicesOf(token: string, orderId: string): Promise<Invoice[]> {
    return (await as(token).get(`/v1/invoices?order_id=${orderId}`).expect(200)).body.data as Invoice[];
  }

  async function rendered(token: string, id: string, timeoutMs = 30_000): Promise<Invoice> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const invoice = (await as(token).get(`/v1/invoices/${id}`).expect(200)).body as Invoice;
      if (invoice.documents.status === 'rendered') return invoice;
      if (Date.now() > deadline) throw new Error(`invoice ${id} was not rendered`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function mint(orderId: string): Promise<Array<{ serial: string; card_type: string }>> {
    const issuance = app.app.get(IssuanceService);
    const batches = await app.dataSource.query<Array<{ id: string }>>(
      'SELECT id FROM issuance_batches WHERE order_id = $1',
      [orderId],
    );
    for (const batch of batches) {
      await issuance.mintChunk({ batchId: batch.id, chunkNo: 0 }, { attemptsMade: 0, opts: { attempts: 1 } } as never);
    }
    return app.dataSource.query(
      `SELECT c.serial::text AS serial, b.card_type FROM cards c JOIN issuance_batches b ON b.id = c.batch_id
       WHERE c.order_id = $1 ORDER BY c.serial`,
      [orderId],
    );
  }

  const download = (token: string, path: string) =>
    app.http.get(path).auth(token, { type: 'bearer' }).buffer(true).parse(binaryBody);

  beforeAll(async () => {
    // Paid orders wait before minting: cancelling stays possible, and the tests mint when they need cards.
    app = await startTestApp({
      ISSUANCE_DELAY_SECONDS: '3600',
      RATE_LIMIT_REQUESTS: '100000',
      INVOICE_ISSUER_CODE: ISSUER,
    });
    operator = await app.operatorToken();
    dataDir = app.app.get(AppConfig).dataDir;
    product = await createProduct(app);
    registeredProduct = await createProduct(app, { card_type: 'registered', validity_months: null });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('per order: paying issues an ordinary 不征税 invoice for what was paid; PDF, XML and e-mail follow', async () => {
    const { token, title, creditCode } = await tenant('per_order', ['ap@example.com', 'cfo@example.com']);
    const order = await paidOrder(token);
    expect(order).toMatchObject({ face_total: 20_000, discount_total: 600, payable: 19_400 });
    const [issued] = await invoicesOf(token, order.id);
    expect(issued).toMatchObject({
      kind: 'blue',
      reason: 'per_order',
      invoice_type: 'ordinary',
      face_value: 20_000,
      discount: 600,
      amount: 19_400,
      tax: 0,
      net_amount: 19_400,
      amount_in_words: '壹佰玖拾肆元整',
      buyer: { title, taxpayer_id: creditCode },
      lines: [
        {
          order_id: order.id,
          item: '*未发生销售行为的不征税项目*预付卡销售和充值',
          tax_classification_code: '6010000000000000000',
          tax_rate: '不征税',
          tax: 0,
          face_value: 20_000,
          discount: 600,
          amount: 19_400,
        },
      ],
    });
    expect(issued.number).toMatch(new RegExp(`^\\d{2}${ISSUER}\\d{12}$`));
    const [event] = await app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
      "SELECT data FROM events WHERE type = 'invoice.issued' AND data->>'invoice_id' = $1",
      [issued.id],
    );
    expect(event.data).toMatchObject({ number: issued.number, amount: 19_400, order_ids: [order.id] });

    const invoice = await rendered(token, issued.id);
    const pdf = await download(token, `/v1/invoices/${issued.id}/pdf`).expect(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    const bytes = pdf.body as Buffer;
    const digest = createHash('sha256').update(bytes).digest('hex');
    expect(digest).toBe(invoice.documents.pdf_sha256);
    expect(pdf.headers['x-content-sha256']).toBe(digest);
    // Subset-embedded: a few dozen KB for a 10 MB font.
    expect(bytes.length).toBeLessThan(150_000);
    const text = pdfText(bytes);
    for (const expected of [title, creditCode, '不征税', '194.00', '200.00', '6.00', '壹佰玖拾肆元整', issued.number]) {
      expect(text).toContain(expected);
    }
    // The Chinese glyphs come from an embedded TrueType subset of Noto Sans SC, not from a viewer's fonts.
    const raw = bytes.toString('latin1');
    expect(raw).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSansSC-Regular/);
    expect(raw).toContain('/FontFile2');
    if (PDFTOPPM) {
      const ink = rasterInk(bytes);
      expect(ink.inked).toBeGreaterThan(0.005);
      expect(ink.darkest).toBeLessThan(80);
    } else if (process.env.CI) {
      throw new Error('pdftoppm is missing: .ci/run installs poppler-utils');
    }

    const xml = await as(token).get(`/v1/invoices/${issued.id}/xml`).expect(200);
    expect(xml.headers['content-type']).toMatch(/^application\/xml/);
    expect(createHash('sha256').update(xml.text).digest('hex')).toBe(invoice.documents.xml_sha256);
    expect(xml.text).toContain(`<Number>${issued.number}</Number>`);
    expect(xml.text).toContain('<TaxRate>不征税</TaxRate>');
    expect(xml.text).toContain('<TotalInWords>壹佰玖拾肆元整</TotalInWords>');
    expect(xml.text).toContain(`<Title>${title}</Title>`);

    // Delivered: one .eml per profile address (no SMTP_URL in tests), the PDF attached.
    const deadline = Date.now() + 15_000;
    const mails = () => {
      const dir = join(dataDir, 'mail');
      if (!existsSync(dir)) return [];
      return readdirSync(dir)
        .map((name) => readFileSync(join(dir, name), 'utf8'))
        .filter((mail) => mail.includes(`X-Fuli-Invoice: ${issued.id}`));
    };
    while (mails().length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const sent = mails();
    expect(sent).toHaveLength(2);
    expect(sent.some((mail) => mail.includes('To: ap@example.com'))).toBe(true);
    expect(sent.some((mail) => mail.includes('To: cfo@example.com'))).toBe(true);
    expect(sent[0]).toContain('Content-Type: application/pdf');
    expect(sent[0]).toContain(`invoice-${issued.number}.pdf`);
  });

  it('cancelling a paid, invoiced order issues a red-letter invoice for it, linked both ways; the net is 0', async () => {
    const { token } = await tenant('per_order');
    const order = await paidOrder(token);
    const [original] = await invoicesOf(token, order.id);
    await as(token).post(`/v1/orders/${order.id}/cancel`, { reason: 'budget cut' }).expect(200);
    const after = (await as(token).get(`/v1/invoices/${original.id}`).expect(200)).body as Invoice;
    expect(after.amount).toBe(19_400);
    expect(after.credit_note_ids).toHaveLength(1);
    expect(after.net_amount).toBe(0);
    const red = (await as(token).get(`/v1/invoices/${after.credit_note_ids[0]}`).expect(200)).body as Invoice;
    expect(red).toMatchObject({
      kind: 'red',
      reason: 'order_cancelled',
      original_invoice_id: original.id,
      amount: -19_400,
      face_value: -20_000,
      discount: -600,
      amount_in_words: '负壹佰玖拾肆元整',
      lines: [{ order_id: order.id, amount: -19_400, tax_rate: '不征税', tax: 0 }],
    });
    const [event] = await app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
      "SELECT data FROM events WHERE type = 'invoice.credited' AND data->>'invoice_id' = $1",
      [red.id],
    );
    expect(event.data).toMatchObject({ original_invoice_id: original.id, original_number: original.number });
    const redPdf = pdfText((await download(token, `/v1/invoices/${(await rendered(token, red.id)).id}/pdf`)).body);
    expect(redPdf).toContain(original.number);
    expect(redPdf).toContain('红字');
  });

  it('voiding unused cards and refunding a registered card each issue a red-letter invoice for that money only', async () => {
    const { token } = await tenant('per_order');
    const order = await paidOrder(token, [
      { product_id: product.id, face_value: 10_000, quantity: 3 },
      { product_id: registeredProduct.id, face_value: 50_000, quantity: 1 },
    ]);
    // 80,000 face, 3 % off: 77,600 paid and invoiced.
    const [original] = await invoicesOf(token, order.id);
    expect(original.amount).toBe(77_600);
    const cards = await mint(order.id);
    const anonymous = cards.filter((card) => card.card_type === 'anonymous');
    const registered = cards.find((card) => card.card_type === 'registered')!;

    await as(token)
      .post('/v1/cards/void', { serials: [anonymous[0].serial, anonymous[1].serial] })
      .expect(200);
    await as(token).post(`/v1/cards/${registered.serial}/refund`).expect(200);

    const after = (await as(token).get(`/v1/invoices/${original.id}`).expect(200)).body as Invoice;
    expect(after.credit_note_ids).toHaveLength(2);
    const [voided, refunded] = await Promise.all(
      after.credit_note_ids.map(async (id) => (await as(token).get(`/v1/invoices/${id}`).expect(200)).body as Invoice),
    );
    // Two 100 CNY cards at 97 CNY each; the refunded card's 500 CNY balance cost 485 CNY.
    expect(voided).toMatchObject({ kind: 'red', reason: 'cards_voided', amount: -19_400, face_value: -20_000 });
    expect(refunded).toMatchObject({ kind: 'red', reason: 'card_refunded', amount: -48_500, face_value: -50_000 });
    expect(after.net_amount).toBe(77_600 - 19_400 - 48_500);
    // The original is never changed.
    expect(after).toMatchObject({ amount: original.amount, number: original.number, lines: original.lines });
  });

  it('on request: POST /v1/invoices with an Idempotency-Key; every bad input has its code', async () => {
    const { token } = await tenant('on_request');
    const first = await paidOrder(token);
    const second = await paidOrder(token);
    // Paying issued nothing in this mode.
    expect(await invoicesOf(token, first.id)).toEqual([]);

    const created = await as(token)
      .post('/v1/invoices', { order_ids: [first.id, second.id] }, 'inv-key-1')
      .expect(201);
    expect(created.body).toMatchObject({ kind: 'blue', reason: 'on_request', amount: 2 * 19_400 });
    expect(created.body.lines.map((line: { order_id: string }) => line.order_id).sort()).toEqual(
      [first.id, second.id].sort(),
    );
    const replay = await as(token)
      .post('/v1/invoices', { order_ids: [first.id, second.id] }, 'inv-key-1')
      .expect(201);
    expect(replay.body.id).toBe(created.body.id);

    const again = await as(token)
      .post('/v1/invoices', { order_ids: [first.id] })
      .expect(409);
    expect(again.body).toMatchObject({ code: 'already_invoiced', order_ids: [first.id] });
    const unpaid = await paidOrder(token, undefined, { pay: false });
    expect(
      (
        await as(token)
          .post('/v1/invoices', { order_ids: [unpaid.id] })
          .expect(422)
      ).body,
    ).toMatchObject({
      code: 'order_not_paid',
      order_ids: [unpaid.id],
    });
    const third = await paidOrder(token);
    const special = await as(token).post('/v1/invoices', { order_ids: [third.id], invoice_type: 'special' });
    expect(special.status).toBe(422);
    expect(special.body.code).toBe('special_invoice_not_allowed');
    expect(
      (
        await as(token)
          .post('/v1/invoices', { order_ids: ['nope'] })
          .expect(400)
      ).body.code,
    ).toBe('validation_failed');
    expect((await as(token).post('/v1/invoices', { order_ids: [] }).expect(400)).body.code).toBe('validation_failed');
    // A cancelled (refunded) order is not paid any more.
    const cancelled = await paidOrder(token);
    await as(token).post(`/v1/orders/${cancelled.id}/cancel`).expect(200);
    expect(
      (
        await as(token)
          .post('/v1/invoices', { order_ids: [cancelled.id] })
          .expect(422)
      ).body.code,
    ).toBe('order_not_paid');

    const bare = await tenant();
    const orphan = await paidOrder(bare.token);
    expect(
      (
        await as(bare.token)
          .post('/v1/invoices', { order_ids: [orphan.id] })
          .expect(422)
      ).body.code,
    ).toBe('invoice_profile_required');
    expect((await as(bare.token).get('/v1/invoice-profile').expect(404)).body.code).toBe('resource_not_found');
    // Another tenant's order is not found, as if it did not exist.
    expect(
      (
        await as(bare.token)
          .post('/v1/invoices', { order_ids: [third.id] })
          .expect(422)
      ).body.code,
    ).toBe('invoice_profile_required');
  });

  it('the profile refuses a bad credit code, a special invoice and an unknown mode, each with its code', async () => {
    const { token, title, creditCode } = await tenant('on_request');
    const body = { title, taxpayer_id: creditCode, emails: [], mode: 'monthly' };
    const wrongCheck = creditCode.slice(0, 17) + (creditCode[17] === '0' ? '1' : '0');
    expect(creditCodeCheckCharacter(wrongCheck)).not.toBe(wrongCheck[17]);
    const cases: Array<[object, number, string]> = [
      [{ taxpayer_id: wrongCheck }, 422, 'invalid_taxpayer_id'],
      [{ invoice_type: 'special' }, 422, 'special_invoice_not_allowed'],
      [{ mode: 'weekly' }, 400, 'validation_failed'],
      [{ emails: ['not-an-address'] }, 400, 'validation_failed'],
      [{ title: '' }, 400, 'validation_failed'],
    ];
    for (const [change, status, code] of cases) {
      const refused = await as(token).put('/v1/invoice-profile', { ...body, ...change });
      expect({ change, status: refused.status, code: refused.body.code }).toEqual({ change, status, code });
    }
    const saved = await as(token)
      .put('/v1/invoice-profile', { ...body, taxpayer_id: creditCode.toLowerCase(), emails: ['a@example.com'] })
      .expect(200);
    expect(saved.body).toMatchObject({ taxpayer_id: creditCode, mode: 'monthly', invoice_type: 'ordinary' });
    expect((await as(token).get('/v1/invoice-profile').expect(200)).body).toEqual(saved.body);
  });

  it('keeps tenants apart: another enterprise sees none of the invoices', async () => {
    const { token } = await tenant('per_order');
    const order = await paidOrder(token);
    const [invoice] = await invoicesOf(token, order.id);
    await rendered(token, invoice.id);
    const other = await tenant('per_order');
    for (const path of [
      `/v1/invoices/${invoice.id}`,
      `/v1/invoices/${invoice.id}/pdf`,
      `/v1/invoices/${invoice.id}/xml`,
    ]) {
      expect((await as(other.token).get(path).expect(404)).body.code).toBe('resource_not_found');
    }
    expect((await as(other.token).get('/v1/invoices?limit=100').expect(200)).body.data).toEqual([]);
    expect(
      (
        await as(other.token)
          .post('/v1/invoices', { order_ids: [order.id] })
          .expect(404)
      ).body.code,
    ).toBe('resource_not_found');
    // A client without invoices:read is refused.
    const hr = await createClient(app, { enterprise_id: (await tenant()).enterprise.id, scopes: ['orders:read'] });
    const hrToken = await app.tokenFor(hr.id, hr.client_secret);
    expect((await as(hrToken).get('/v1/invoices').expect(403)).body.code).toBe('insufficient_scope');
  });

  it('the operator lists across enterprises, re-renders, and voids an invoice issued in error (audited)', async () => {
    const { token, enterprise } = await tenant('per_order');
    const order = await paidOrder(token);
    const [invoice] = await invoicesOf(token, order.id);
    const listed = await as(operator).get(`/v1/admin/invoices?enterprise_id=${enterprise.id}`).expect(200);
    expect(listed.body.data.map((item: Invoice) => item.id)).toEqual([invoice.id]);
    const first = await rendered(token, invoice.id);
    await as(operator).post(`/v1/admin/invoices/${invoice.id}/render`).expect(202);

    const voided = await as(operator)
      .post(`/v1/admin/invoices/${invoice.id}/void`, { reason: 'wrong buyer title' })
      .expect(200);
    expect(voided.body).toMatchObject({ id: invoice.id, net_amount: 0, amount: 19_400 });
    const red = (await as(token).get(`/v1/invoices/${voided.body.credit_note_ids[0]}`).expect(200)).body as Invoice;
    expect(red).toMatchObject({
      kind: 'red',
      reason: 'issued_in_error',
      amount: -19_400,
      original_invoice_id: invoice.id,
    });
    const [audit] = await app.dataSource.query<Array<{ data: { summary: Record<string, unknown> } }>>(
      "SELECT data FROM audit_records WHERE action = 'invoice.voided' AND object_id = $1",
      [invoice.id],
    );
    expect(audit.data.summary).toMatchObject({ reason: 'wrong buyer title', credit_invoice_id: red.id });
    expect(
      (await as(operator).post(`/v1/admin/invoices/${invoice.id}/void`, { reason: 'twice' }).expect(409)).body.code,
    ).toBe('invoice_already_credited');
    expect((await as(operator).post(`/v1/admin/invoices/${red.id}/void`, { reason: 'x' }).expect(409)).body.code).toBe(
      'invalid_state',
    );
    // The order is free again: a corrected invoice can be requested.
    const corrected = await as(token)
      .post('/v1/invoices', { order_ids: [order.id] })
      .expect(201);
    expect(corrected.body).toMatchObject({ kind: 'blue', amount: 19_400 });
    expect(corrected.body.number).not.toBe(invoice.number);
    // Rendering again gives the same bytes: the PDF is dated by the invoice.
    const again = await rendered(token, invoice.id);
    expect(again.documents.pdf_sha256).toBe(first.documents.pdf_sha256);
    expect(first.documents.xml_sha256).toBe(again.documents.xml_sha256);
  });

  it('monthly: one invoice per enterprise and Asia/Shanghai month, across the month boundary, idempotent', async () => {
    const { token, enterprise } = await tenant('monthly');
    const october = await paidOrder(token);
    const november = await paidOrder(token);
    expect(await invoicesOf(token, october.id)).toEqual([]);
    // 23:59:59 on 31 October and 00:00:00 on 1 November, Shanghai time (UTC+8).
    await app.dataSource.query('UPDATE orders SET paid_at = $2 WHERE id = $1', [october.id, '2025-10-31T15:59:59Z']);
    await app.dataSource.query('UPDATE orders SET paid_at = $2 WHERE id = $1', [november.id, '2025-10-31T16:00:00Z']);
    const invoicing = app.app.get(InvoicingService);
    const run = (period: string) => invoicing.issueMonthlyJob({ period });

    await run('2025-10');
    const [octInvoice] = await invoicesOf(token, october.id);
    expect(octInvoice).toMatchObject({ reason: 'monthly', amount: 19_400 });
    expect(octInvoice.lines.map((line) => line.order_id)).toEqual([october.id]);
    expect(await invoicesOf(token, november.id)).toEqual([]);

    await run('2025-10');
    await run('2025-11');
    await run('2025-11');
    const [novInvoice] = await invoicesOf(token, november.id);
    expect(novInvoice.lines.map((line) => line.order_id)).toEqual([november.id]);
    const all = await app.dataSource.query<Array<{ period: string }>>(
      'SELECT period FROM invoices WHERE enterprise_id = $1 ORDER BY period',
      [enterprise.id],
    );
    expect(all.map((row) => row.period)).toEqual(['2025-10', '2025-11']);
    // The job's default month is the one before the run's, in Shanghai.
    expect((await invoicing.issueMonthlyJob({})).period).toMatch(/^\d{4}-\d{2}$/);
  });

  it('numbers are gapless and unique under 50 concurrent issuances (and refusals racing them)', async () => {
    const { token } = await tenant('on_request');
    const orders: string[] = [];
    for (let i = 0; i < 50; i++) orders.push((await paidOrder(token)).id);
    // Ten requests race for orders that others invoice too: their numbers must come back, leaving no gap.
    const racing = [...orders.map((id) => [id]), ...orders.slice(0, 10).map((id) => [id])];
    const responses = await Promise.all(racing.map((ids) => as(token).post('/v1/invoices', { order_ids: ids })));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(50);
    expect(statuses.filter((status) => status === 409)).toHaveLength(10);
    const numbers = responses
      .filter((response) => response.status === 201)
      .map((response) => response.body.number as string);
    expect(new Set(numbers).size).toBe(50);
    const rows = await app.dataSource.query<Array<{ year: number; sequence: number }>>(
      'SELECT year, sequence FROM invoices WHERE issuer_code = $1 ORDER BY year, sequence',
      [ISSUER],
    );
    for (const year of new Set(rows.map((row) => row.year))) {
      const sequences = rows.filter((row) => row.year === year).map((row) => row.sequence);
      expect(sequences).toEqual(sequences.map((_, index) => index + 1));
    }
    const [{ last_sequence }] = await app.dataSource.query<Array<{ last_sequence: number }>>(
      'SELECT last_sequence FROM invoice_number_counters WHERE issuer_code = $1 ORDER BY year DESC LIMIT 1',
      [ISSUER],
    );
    expect(last_sequence).toBe(rows.filter((row) => row.year === rows[rows.length - 1].year).length);
  });
});
