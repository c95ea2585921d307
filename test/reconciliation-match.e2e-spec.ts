import { randomInt } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { newId } from '../src/common/ids';
import { startTestApp, type TestApp } from './support/app';
import {
  createClient,
  createEnterprise,
  createProduct,
  newCreditCode,
  recordTransfer,
  type ProductFixture,
} from './support/fixtures';
import { binaryBody } from './support/http-body';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
/** The upload limits of this app: small, so that "over the limit" is cheap, and above the 2,000-row run. */
const MAX_ROWS = 2_500;
const MAX_BYTES = 400_000;

interface Difference {
  position: number;
  kind: string;
  row_number: number | null;
  duplicate_of_row: number | null;
  erp: {
    order_id: string | null;
    po_number: string | null;
    amount: number;
    date: string;
    invoice_number: string | null;
  } | null;
  fuli: {
    order_id: string;
    po_number: string;
    order_status: string;
    amount: number;
    date: string | null;
    invoice_number: string | null;
  } | null;
}

/** Today in Asia/Shanghai, as YYYY-MM-DD: the day the test's orders are paid. */
function shanghaiToday(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}

/** A difference as the CSV/XLSX downloads flatten it (text as the cell shows it, numbers as strings). */
function flattened(difference: Difference): Record<string, string> {
  const text = (value: string | number | null | undefined) =>
    value === null || value === undefined ? '' : String(value);
  return {
    position: text(difference.position),
    kind: difference.kind,
    row_number: text(difference.row_number),
    duplicate_of_row: text(difference.duplicate_of_row),
    erp_order_id: text(difference.erp?.order_id),
    erp_po_number: text(difference.erp?.po_number),
    erp_amount: text(difference.erp?.amount),
    erp_date: text(difference.erp?.date),
    erp_invoice_number: text(difference.erp?.invoice_number),
    fuli_order_id: text(difference.fuli?.order_id),
    fuli_po_number: text(difference.fuli?.po_number),
    fuli_order_status: text(difference.fuli?.order_status),
    fuli_amount: text(difference.fuli?.amount),
    fuli_date: text(difference.fuli?.date),
    fuli_invoice_number: text(difference.fuli?.invoice_number),
  };
}

/** Upload and match end to end (README, "Reconciling against your ERP"). */
describe('reconciliation: upload and match', () => {
  let app: TestApp;
  let operator: string;
  let product: ProductFixture;
  const today = shanghaiToday();

  beforeAll(async () => {
    app = await startTestApp({
      RECONCILIATION_MAX_ROWS: String(MAX_ROWS),
      RECONCILIATION_FILE_MAX_BYTES: String(MAX_BYTES),
    });
    operator = await app.operatorToken();
    product = await createProduct(app);
  });

  afterAll(async () => {
    await app.close();
  });

  /** A funded enterprise whose client may order, invoice and reconcile. */
  async function tenant() {
    const creditCode = newCreditCode();
    const enterprise = await createEnterprise(app, { credit_code: creditCode });
    const client = await createClient(app, {
      enterprise_id: enterprise.id,
      scopes: [
        'orders:write',
        'orders:read',
        'orders:approve',
        'invoices:read',
        'invoices:write',
        'reconciliation:read',
        'reconciliation:write',
      ],
    });
    const token = await app.tokenFor(client.id, client.client_secret);
    await recordTransfer(app, operator, {
      enterprise_id: enterprise.id,
      payer_account_name: enterprise.name,
      amount: 10_000_000,
    }).expect(201);
    return { enterprise, client, token, creditCode };
  }

  async function paidOrder(token: string, { pay = true, quantity = 1 } = {}) {
    const placed = await app.http
      .post('/v1/orders')
      .auth(token, { type: 'bearer' })
      .send({
        po_number: `PO-${randomInt(1e9)}`,
        payment_method: 'prepaid_balance',
        lines: [{ product_id: product.id, face_value: 10_000, quantity }],
      })
      .expect(201);
    if (pay) await app.http.post(`/v1/orders/${placed.body.id}/pay`).auth(token, { type: 'bearer' }).expect(200);
    return placed.body as { id: string; po_number: string; payable: number; status: string };
  }

  function upload(token: string, body: string | Buffer | object, contentType: string, query = '', key?: string) {
    const request = app.http
      .post(`/v1/reconciliations${query}`)
      .auth(token, { type: 'bearer' })
      .set('content-type', contentType);
    if (key) void request.set('Idempotency-Key', key);
    return request.send(typeof body === 'object' && !Buffer.isBuffer(body) ? JSON.stringify(body) : body);
  }

  async function completed(token: string, id: string, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await app.http.get(`/v1/reconciliations/${id}`).auth(token, { type: 'bearer' }).expect(200);
      if (found.body.status !== 'processing') return found.body;
      if (Date.now() > deadline) throw new Error(`reconciliation ${id} still processing`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function allDifferences(token: string, id: string, kind?: string): Promise<Difference[]> {
    const found: Difference[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({
        limit: '3',
        ...(kind ? { kind } : {}),
        ...(cursor ? { starting_after: cursor } : {}),
      });
      const page = await app.http
        .get(`/v1/reconciliations/${id}/differences?${query.toString()}`)
        .auth(token, { type: 'bearer' })
        .expect(200);
      found.push(...(page.body.data as Difference[]));
      cursor = page.body.next_cursor as string | null;
    } while (cursor);
    return found;
  }

  /** Five paid orders (the second invoiced) and one unpaid: the ERP's rows below name them. */
  async function ordersToReconcile() {
    const owner = await tenant();
    const orders = [];
    for (let i = 0; i < 5; i++) orders.push(await paidOrder(owner.token, { quantity: i + 1 }));
    const unpaid = await paidOrder(owner.token, { pay: false });
    await app.http
      .put('/v1/invoice-profile')
      .auth(owner.token, { type: 'bearer' })
      .send({
        title: `对账测试${randomInt(1e6)}有限公司`,
        taxpayer_id: owner.creditCode,
        address: '上海市黄浦区测试路8号',
        emails: [],
        mode: 'on_request',
      })
      .expect(200);
    const invoice = await app.http
      .post('/v1/invoices')
      .auth(owner.token, { type: 'bearer' })
      .send({ order_ids: [orders[1].id] })
      .expect(201);
    return { ...owner, orders, unpaid, invoiceNumber: invoice.body.number as string };
  }

  /** One row of each kind (README walk-through): returns the CSV and what each row should come out as. */
  function erpCsv(fixture: Awaited<ReturnType<typeof ordersToReconcile>>): string {
    const [o1, o2, o3, , o5] = fixture.orders;
    return [
      'po_number,order_id,amount_cny,date,invoice_number,memo',
      `${o1.po_number},,${(o1.payable / 100).toFixed(2)},${today},,first`,
      `,${o2.id},${(o2.payable / 100).toFixed(2)},${today.replaceAll('-', '/')},${fixture.invoiceNumber},invoiced`,
      `${o3.po_number},,${((o3.payable + 1) / 100).toFixed(2)},${today},,one fen more`,
      `ERP-ONLY-1,,12.34,${today},,not in Fuli`,
      `${o1.po_number},,${(o1.payable / 100).toFixed(2)},${today},,again`,
      `${o5.po_number},,${(o5.payable / 100).toFixed(2)},${today},WRONG-1,wrong invoice`,
      `${fixture.unpaid.po_number},,${(fixture.unpaid.payable / 100).toFixed(2)},${today},,unpaid`,
      `"=HYPERLINK(""http://x"")",,1.00,${today},,formula text`,
    ].join('\n');
  }

  it('finds every kind of difference with both sides, in CSV, XLSX and JSON alike, and announces it', async () => {
    const fixture = await ordersToReconcile();
    const [o1, o2, o3, o4, o5] = fixture.orders;
    const csv = erpCsv(fixture);
    const created = await upload(fixture.token, csv, 'text/csv', '?filename=erp.csv').expect(201);
    expect(created.body).toMatchObject({
      object: 'reconciliation',
      status: 'processing',
      format: 'csv',
      filename: 'erp.csv',
      row_count: 8,
      period_from: today,
      period_to: today,
      period_given: false,
      counts: null,
    });
    const done = await completed(fixture.token, created.body.id);
    expect(done.status).toBe('completed');
    expect(done.counts).toEqual({
      matched: 2,
      missing_in_fuli: 2,
      missing_in_erp: 1,
      amount_mismatch: 2,
      invoice_mismatch: 1,
      duplicate: 1,
    });

    const differences = await allDifferences(fixture.token, created.body.id);
    const fuliOf = (order: { id: string; po_number: string; payable: number }, invoice: string | null = null) => ({
      order_id: order.id,
      po_number: order.po_number,
      order_status: expect.any(String),
      amount: order.payable,
      date: today,
      invoice_number: invoice,
    });
    expect(differences).toEqual([
      {
        object: 'reconciliation_difference',
        position: 3,
        kind: 'amount_mismatch',
        row_number: 3,
        duplicate_of_row: null,
        erp: { order_id: null, po_number: o3.po_number, amount: o3.payable + 1, date: today, invoice_number: null },
        fuli: fuliOf(o3),
      },
      {
        object: 'reconciliation_difference',
        position: 4,
        kind: 'missing_in_fuli',
        row_number: 4,
        duplicate_of_row: null,
        erp: { order_id: null, po_number: 'ERP-ONLY-1', amount: 1234, date: today, invoice_number: null },
        fuli: null,
      },
      {
        object: 'reconciliation_difference',
        position: 5,
        kind: 'duplicate',
        row_number: 5,
        duplicate_of_row: 1,
        erp: { order_id: null, po_number: o1.po_number, amount: o1.payable, date: today, invoice_number: null },
        fuli: fuliOf(o1),
      },
      {
        object: 'reconciliation_difference',
        position: 6,
        kind: 'invoice_mismatch',
        row_number: 6,
        duplicate_of_row: null,
        erp: { order_id: null, po_number: o5.po_number, amount: o5.payable, date: today, invoice_number: 'WRONG-1' },
        fuli: fuliOf(o5),
      },
      {
        object: 'reconciliation_difference',
        position: 7,
        kind: 'amount_mismatch',
        row_number: 7,
        duplicate_of_row: null,
        erp: {
          order_id: null,
          po_number: fixture.unpaid.po_number,
          amount: fixture.unpaid.payable,
          date: today,
          invoice_number: null,
        },
        // Nothing paid yet: Fuli's side is 0, with the order's status and no payment day.
        fuli: { ...fuliOf(fixture.unpaid), order_status: 'pending_payment', amount: 0, date: null },
      },
      {
        object: 'reconciliation_difference',
        position: 8,
        kind: 'missing_in_fuli',
        row_number: 8,
        duplicate_of_row: null,
        // A formula is text, never evaluated.
        erp: { order_id: null, po_number: '=HYPERLINK("http://x")', amount: 100, date: today, invoice_number: null },
        fuli: null,
      },
      {
        object: 'reconciliation_difference',
        position: 9,
        kind: 'missing_in_erp',
        row_number: null,
        duplicate_of_row: null,
        erp: null,
        fuli: fuliOf(o4),
      },
    ]);
    // The invoiced order matched on its invoice number too (row 2 is no difference).
    expect(differences.some((difference) => difference.fuli?.order_id === o2.id)).toBe(false);
    // Filtered by kind.
    expect((await allDifferences(fixture.token, created.body.id, 'amount_mismatch')).map((d) => d.row_number)).toEqual([
      3, 7,
    ]);

    // CSV download: a BOM, the same differences flattened, the formula neutralised.
    const csvDownload = await app.http
      .get(`/v1/reconciliations/${created.body.id}/differences?format=csv`)
      .auth(fixture.token, { type: 'bearer' })
      .buffer(true)
      .parse(binaryBody)
      .expect(200);
    expect(csvDownload.headers['content-type']).toMatch(/^text\/csv/);
    const csvBody = csvDownload.body as Buffer;
    expect([...csvBody.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const csvRows = parse<Record<string, string>>(csvBody.toString('utf8'), { bom: true, columns: true });
    const expected = differences.map(flattened).map((row) => ({
      ...row,
      erp_po_number: row.erp_po_number.startsWith('=') ? `'${row.erp_po_number}` : row.erp_po_number,
    }));
    expect(csvRows).toEqual(expected);

    // XLSX by Accept: the same cells, amounts as numbers.
    const xlsxDownload = await app.http
      .get(`/v1/reconciliations/${created.body.id}/differences`)
      .set('accept', XLSX)
      .auth(fixture.token, { type: 'bearer' })
      .buffer(true)
      .parse(binaryBody)
      .expect(200);
    expect(xlsxDownload.headers['content-type']).toBe(XLSX);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(xlsxDownload.body as never);
    const sheet = workbook.worksheets[0];
    const header = (sheet.getRow(1).values as unknown[]).slice(1) as string[];
    const xlsxRows: Array<Record<string, string>> = [];
    sheet.eachRow((row, rowNumber) => {
      if (rowNumber === 1) return;
      const values = (row.values as Array<string | number | null | undefined>).slice(1);
      xlsxRows.push(Object.fromEntries(header.map((name, i) => [name, String(values[i] ?? '')])));
    });
    expect(xlsxRows).toEqual(expected);
    expect(typeof sheet.getRow(2).getCell(header.indexOf('erp_amount') + 1).value).toBe('number');

    // The same records as XLSX (the formula cell a real formula) and as JSON come out the same.
    const source = new ExcelJS.Workbook();
    const upSheet = source.addWorksheet('erp');
    const lines = parse<Record<string, string>>(csv, { columns: true });
    const columns = Object.keys(lines[0]);
    upSheet.addRow(columns);
    for (const line of lines) {
      upSheet.addRow(
        columns.map((column) =>
          line[column].startsWith('=') ? { formula: line[column].slice(1), result: 'evaluated' } : line[column] || null,
        ),
      );
    }
    const asXlsx = await upload(fixture.token, Buffer.from(await source.xlsx.writeBuffer()), XLSX).expect(201);
    const asJson = await upload(fixture.token, { records: lines }, 'application/json').expect(201);
    for (const id of [asXlsx.body.id as string, asJson.body.id as string]) {
      expect((await completed(fixture.token, id)).counts).toEqual(done.counts);
      const again = await allDifferences(fixture.token, id);
      expect(again.map(({ kind, erp, fuli }) => ({ kind, erp, fuli }))).toEqual(
        differences.map(({ kind, erp, fuli }) => ({ kind, erp, fuli })),
      );
    }

    // reconciliation.completed through the outbox, counts only.
    const events = await app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
      `SELECT data FROM events WHERE enterprise_id = $1 AND type = 'reconciliation.completed' ORDER BY id`,
      [fixture.enterprise.id],
    );
    expect(events).toHaveLength(3);
    expect(events[0].data).toEqual({
      reconciliation_id: created.body.id,
      row_count: 8,
      period_from: today,
      period_to: today,
      counts: done.counts,
    });

    // Listed newest first, by cursor.
    const first = await app.http.get('/v1/reconciliations?limit=2').auth(fixture.token, { type: 'bearer' }).expect(200);
    expect(first.body.data.map((r: { id: string }) => r.id)).toEqual([asJson.body.id, asXlsx.body.id]);
    const second = await app.http
      .get(`/v1/reconciliations?limit=2&starting_after=${first.body.next_cursor}`)
      .auth(fixture.token, { type: 'bearer' })
      .expect(200);
    expect(second.body.data.map((r: { id: string }) => r.id)).toEqual([created.body.id]);
    expect(second.body.has_more).toBe(false);
  });

  it('takes an explicit period: orders paid in it and named by no row are missing in the ERP', async () => {
    const owner = await tenant();
    const named = await paidOrder(owner.token);
    const unnamed = await paidOrder(owner.token);
    const csv = `order_id,amount_fen,date\n${named.id},${named.payable},2020-01-01\n`;
    // The rows' own dates (2020) would cover neither order; the given period covers both.
    const byRows = await upload(owner.token, csv, 'text/csv').expect(201);
    expect((await completed(owner.token, byRows.body.id)).counts.missing_in_erp).toBe(0);
    const byPeriod = await upload(owner.token, csv, 'text/csv', `?period_from=2020-01-01&period_to=${today}`).expect(
      201,
    );
    expect(byPeriod.body).toMatchObject({ period_from: '2020-01-01', period_to: today, period_given: true });
    expect((await completed(owner.token, byPeriod.body.id)).counts).toMatchObject({ matched: 1, missing_in_erp: 1 });
    const [missing] = await allDifferences(owner.token, byPeriod.body.id, 'missing_in_erp');
    expect(missing.fuli).toMatchObject({ order_id: unnamed.id, amount: unnamed.payable });
    const half = await upload(owner.token, csv, 'text/csv', '?period_from=2020-01-01').expect(400);
    expect(half.body.code).toBe('invalid_period');
    const reversed = await upload(owner.token, csv, 'text/csv', '?period_from=2020-02-01&period_to=2020-01-01');
    expect(reversed.status).toBe(400);
    expect(reversed.body.code).toBe('invalid_period');
  });

  it('matches 2,000 rows by the same path as 100,000: set-based, every count right', async () => {
    const owner = await tenant();
    const n = 2_000;
    const ids = Array.from({ length: n }, () => newId('order'));
    // The orders written directly (placing 2,000 over HTTP would take minutes): paid today, 100.00 CNY each.
    await app.dataSource.query(
      `INSERT INTO orders (id, enterprise_id, po_number, status, face_total, discount_bps, discount_total, payable,
                           payment_method, created_by_client_id, paid_at)
       SELECT id, $2, 'BULK-' || n, 'paid', 10000, 0, 0, 10000, 'prepaid_balance', $3, now()
         FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n)`,
      [ids, owner.enterprise.id, owner.client.id],
    );
    // Written around the ledger: removed again, so that the run's ledger check sees only orders paid for real.
    try {
      const rows = ['po_number,amount_fen,date'];
      // Orders 1..1997 named once, 11..15 with another amount; 21..23 named twice; 1998..2000 not at all.
      for (let i = 1; i <= n - 3; i++) rows.push(`BULK-${i},${i > 10 && i <= 15 ? 10_100 : 10_000},${today}`);
      for (let i = 21; i <= 23; i++) rows.push(`BULK-${i},10000,${today}`);
      const created = await upload(owner.token, rows.join('\n'), 'text/csv').expect(201);
      expect(created.body.row_count).toBe(n);
      const done = await completed(owner.token, created.body.id);
      expect(done.counts).toEqual({
        matched: n - 3 - 5,
        missing_in_fuli: 0,
        missing_in_erp: 3,
        amount_mismatch: 5,
        invoice_mismatch: 0,
        duplicate: 3,
      });
      const missing = await allDifferences(owner.token, created.body.id, 'missing_in_erp');
      expect(missing.map((d) => d.fuli!.po_number).sort()).toEqual(['BULK-1998', 'BULK-1999', 'BULK-2000']);
      const duplicates = await allDifferences(owner.token, created.body.id, 'duplicate');
      expect(duplicates.map((d) => [d.row_number, d.duplicate_of_row])).toEqual([
        [1998, 21],
        [1999, 22],
        [2000, 23],
      ]);
    } finally {
      await app.dataSource.query(`DELETE FROM orders WHERE enterprise_id = $1 AND po_number LIKE 'BULK-%'`, [
        owner.enterprise.id,
      ]);
    }
  });

  it("keeps tenants apart: another enterprise's orders and reconciliations are not found", async () => {
    const fixture = await ordersToReconcile();
    const mine = await upload(fixture.token, erpCsv(fixture), 'text/csv').expect(201);
    await completed(fixture.token, mine.body.id);
    const other = await tenant();
    await app.http.get(`/v1/reconciliations/${mine.body.id}`).auth(other.token, { type: 'bearer' }).expect(404);
    await app.http
      .get(`/v1/reconciliations/${mine.body.id}/differences`)
      .auth(other.token, { type: 'bearer' })
      .expect(404);
    await app.http
      .get(`/v1/reconciliations/${mine.body.id}/differences?format=csv`)
      .auth(other.token, { type: 'bearer' })
      .expect(404);
    const list = await app.http.get('/v1/reconciliations').auth(other.token, { type: 'bearer' }).expect(200);
    expect(list.body.data).toEqual([]);
    // Naming the first enterprise's orders, by id and by PO number, finds nothing of theirs.
    const [o1, o2] = fixture.orders;
    const theirs = await upload(
      other.token,
      `order_id,po_number,amount_fen,date\n${o1.id},,${o1.payable},${today}\n,${o2.po_number},${o2.payable},${today}\n`,
      'text/csv',
    ).expect(201);
    const done = await completed(other.token, theirs.body.id);
    expect(done.counts).toMatchObject({ matched: 0, missing_in_fuli: 2, missing_in_erp: 0 });
    const differences = await allDifferences(other.token, theirs.body.id);
    expect(differences.every((difference) => difference.fuli === null)).toBe(true);
    // Scopes: reading needs reconciliation:read, uploading reconciliation:write.
    const readOnly = await createClient(app, { enterprise_id: other.enterprise.id, scopes: ['reconciliation:read'] });
    const readToken = await app.tokenFor(readOnly.id, readOnly.client_secret);
    await upload(readToken, 'po_number,amount_fen,date\nX,1,2026-01-01\n', 'text/csv').expect(403);
  });

  it('answers a retried upload with the same reconciliation (Idempotency-Key)', async () => {
    const owner = await tenant();
    const order = await paidOrder(owner.token);
    const body = { records: [{ order_id: order.id, amount_fen: order.payable, date: today }] };
    const key = `rcn-${randomInt(1e9)}`;
    const first = await upload(owner.token, body, 'application/json', '', key).expect(201);
    const again = await upload(owner.token, body, 'application/json', '', key).expect(201);
    expect(again.body.id).toBe(first.body.id);
    const csv = `order_id,amount_fen,date\n${order.id},${order.payable},${today}\n`;
    const fileKey = `rcn-${randomInt(1e9)}`;
    const file = await upload(owner.token, csv, 'text/csv', '', fileKey).expect(201);
    const fileAgain = await upload(owner.token, csv, 'text/csv', '', fileKey).expect(201);
    expect(fileAgain.body.id).toBe(file.body.id);
    // The key with another request is refused.
    const other = await upload(
      owner.token,
      { records: [{ ...body.records[0], amount_fen: 1 }] },
      'application/json',
      '',
      key,
    );
    expect(other.status).toBe(422);
    const list = await app.http.get('/v1/reconciliations').auth(owner.token, { type: 'bearer' }).expect(200);
    expect(list.body.data).toHaveLength(2);
  });

  it('refuses every bad input with its code, and stores nothing', async () => {
    const owner = await tenant();
    const order = await paidOrder(owner.token);
    const storedRows = async () =>
      Number(
        (
          await app.dataSource.query<Array<{ count: string }>>(
            `SELECT count(*) FROM reconciliation_rows r JOIN reconciliations c ON c.id = r.reconciliation_id
              WHERE c.enterprise_id = $1`,
            [owner.enterprise.id],
          )
        )[0].count,
      ) +
      Number(
        (
          await app.dataSource.query<Array<{ count: string }>>(
            // Rows of a refused upload would have no reconciliation: none may be left either way.
            'SELECT count(*) FROM reconciliation_rows r WHERE NOT EXISTS (SELECT 1 FROM reconciliations c WHERE c.id = r.reconciliation_id)',
          )
        )[0].count,
      );

    const bad = await upload(
      owner.token,
      [
        'order_id,po_number,amount_fen,amount_cny,date,invoice_number',
        `${order.id},,${order.payable},,${today},`,
        `,PO-1,12.5,,${today},`,
        `,PO-2,,"1,000.00",${today},`,
        `,PO-3,100,,2026-02-30,`,
        `ORD123,,100,,${today},`,
        `,,100,,${today},`,
        `,PO-4,,,${today},`,
        `,PO-5,100,,,`,
        `,PO-6,100,1.00,${today},`,
        `,PO 7,100,,${today},`,
        `,PO-8,100,,${today},${'9'.repeat(65)}`,
      ].join('\n'),
      'text/csv',
    );
    expect(bad.status).toBe(422);
    expect(bad.headers['content-type']).toMatch(/problem\+json/);
    expect(bad.body.code).toBe('invalid_rows');
    expect(bad.body.error_count).toBe(10);
    expect(bad.body.errors.map((e: { row: number; field: string; code: string }) => [e.row, e.field, e.code])).toEqual([
      [2, 'amount_fen', 'invalid_amount'],
      [3, 'amount_cny', 'invalid_amount'],
      [4, 'date', 'invalid_date'],
      [5, 'order_id', 'invalid_order_id'],
      [6, 'po_number', 'order_reference_required'],
      [7, 'amount_fen', 'amount_required'],
      [8, 'date', 'date_required'],
      [9, 'amount_fen', 'invalid_amount'],
      [10, 'po_number', 'invalid_po_number'],
      [11, 'invoice_number', 'invalid_invoice_number'],
    ]);
    // JSON rows are checked the same way, numbered from 1.
    const badJson = await upload(
      owner.token,
      {
        records: [
          { po_number: 'PO-1', amount_fen: 100, date: today },
          { po_number: 'PO-2', amount_fen: -1, date: today },
        ],
      },
      'application/json',
    );
    expect(badJson.status).toBe(422);
    expect(badJson.body.errors).toEqual([
      { row: 2, field: 'amount_fen', code: 'invalid_amount', message: expect.any(String) },
    ]);

    const missing = await upload(owner.token, `po_number,amount_fen\nPO-1,100\n`, 'text/csv');
    expect(missing.status).toBe(422);
    expect(missing.body).toMatchObject({ code: 'missing_columns', columns: ['date'] });

    const empty = await upload(owner.token, 'po_number,amount_fen,date\n', 'text/csv');
    expect(empty.status).toBe(422);
    expect(empty.body.code).toBe('file_empty');
    const emptyJson = await upload(owner.token, { records: [] }, 'application/json');
    expect(emptyJson.status).toBe(422);
    expect(emptyJson.body.code).toBe('file_empty');

    const tooManyRows =
      'po_number,amount_fen,date\n' + Array.from({ length: MAX_ROWS + 1 }, (_, i) => `PO-${i},100,${today}`).join('\n');
    const rows = await upload(owner.token, tooManyRows, 'text/csv');
    expect(rows.status).toBe(413);
    expect(rows.body).toMatchObject({ code: 'file_too_large', max_rows: MAX_ROWS });
    const tooManyBytes = `po_number,amount_fen,date,memo\nPO-1,100,${today},${'x'.repeat(MAX_BYTES)}\n`;
    const bytes = await upload(owner.token, tooManyBytes, 'text/csv');
    expect(bytes.status).toBe(413);
    expect(bytes.body.code).toBe('file_too_large');

    const plain = await upload(owner.token, 'po_number,amount_fen,date\n', 'text/plain');
    expect(plain.status).toBe(415);
    expect(plain.body.code).toBe('unsupported_media_type');
    const unreadable = await upload(owner.token, Buffer.from('not a zip at all'), XLSX);
    expect(unreadable.status).toBe(422);
    expect(unreadable.body.code).toBe('file_unreadable');
    const notRecords = await upload(owner.token, [{ po_number: 'PO-1' }], 'application/json');
    expect(notRecords.status).toBe(400);

    expect(await storedRows()).toBe(0);
    const list = await app.http.get('/v1/reconciliations').auth(owner.token, { type: 'bearer' }).expect(200);
    expect(list.body.data).toEqual([]);
  });
});
