import { createHash } from 'node:crypto';
import ExcelJS from 'exceljs';
import { AuditService } from '../src/audit/audit.service';
import { OrderLifecycleHooks } from '../src/orders/order-lifecycle-hooks';
import { RequestContext } from '../src/common/context/request-context';
import { ApiError } from '../src/common/errors/api-error';
import { newId } from '../src/common/ids';
import { startTestApp, type TestApp } from './support/app';
import { waitForIssued } from './support/cards';
import { createProduct, placePaidOrder } from './support/fixtures';
import { binaryBody } from './support/http-body';
import { waitFor, waitUntil } from './support/wait';
import { canonicalJson } from '../src/common/canonical-json';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const SCOPES = ['orders:write', 'orders:read', 'distributions:read', 'distributions:write', 'cards:read'] as const;
const RESIDENT_ID = '11010519491231002X';
const REAL_NAME = { name: '张三', id_type: 'resident_id', id_number: RESIDENT_ID, mobile: '13812345678' };

interface Issued {
  orderId: string;
  token: string;
  serials: string[];
}

/** Distribution creation end to end: orders paid and minted by the in-process worker, then handed out. */
describe('distributions (creation)', () => {
  let app: TestApp;
  let anonymous: { id: string };
  let registered: { id: string };

  beforeAll(async () => {
    app = await startTestApp({
      ISSUANCE_CHUNK_SIZE: '100',
      RATE_LIMIT_REQUESTS: '100000',
      DISTRIBUTION_FILE_MAX_BYTES: '20000',
      DISTRIBUTION_FILE_MAX_ROWS: '200',
    });
    anonymous = await createProduct(app);
    registered = await createProduct(app, { card_type: 'registered', validity_months: null });
  });
  afterAll(async () => {
    await app.close();
  });

  /** A fresh enterprise's issued order: anonymous 100 CNY × `small`, 500 CNY × 3, registered 1,000 CNY × 2. */
  async function issuedOrder(small = 12): Promise<Issued> {
    const { token, order } = await placePaidOrder(
      app,
      `DST-${newId('order').slice(-10)}`,
      [
        { product_id: anonymous.id, face_value: 10_000, quantity: small },
        { product_id: anonymous.id, face_value: 50_000, quantity: 3 },
        { product_id: registered.id, face_value: 100_000, quantity: 2 },
      ],
      [...SCOPES],
    );
    await waitForIssued(app, order.id);
    const rows = await app.dataSource.query<Array<{ serial: string }>>(
      'SELECT serial::text AS serial FROM cards WHERE order_id = $1 ORDER BY serial',
      [order.id],
    );
    return { orderId: order.id, token, serials: rows.map((row) => row.serial) };
  }

  const post = (token: string, body: object, key?: string) => {
    const request = app.http.post('/v1/distributions').auth(token, { type: 'bearer' });
    if (key) void request.set('Idempotency-Key', key);
    return request.send(body);
  };
  /** POST /v1/distribution-files of `body` as `filename`, in `contentType` (CSV by default). */
  const upload = (token: string, filename: string, body: string | Buffer, contentType = 'text/csv') =>
    app.http
      .post(`/v1/distribution-files?filename=${filename}`)
      .auth(token, { type: 'bearer' })
      .set('content-type', contentType)
      .send(body);
  const assignedCount = async (orderId: string) =>
    Number(
      (
        await app.dataSource.query<Array<{ n: string }>>(
          `SELECT count(*) AS n FROM distribution_recipients r JOIN distributions d ON d.id = r.distribution_id
            WHERE d.order_id = $1 AND r.status <> 'revoked'`,
          [orderId],
        )
      )[0].n,
    );

  it('reserves a card per recipient, returns the claim URL of a link recipient once, and records it all', async () => {
    const order = await issuedOrder();
    const response = await post(order.token, {
      order_id: order.orderId,
      recipients: [
        { employee_ref: 'E001', name: '李雷', channel: 'email', email: 'li.lei@example.com', face_value: 10_000 },
        { employee_ref: 'E002', channel: 'sms', mobile: '+86 139 1234 5678', face_value: 50_000, locale: 'en' },
        { employee_ref: 'E003', channel: 'link', face_value: 10_000, greeting: '新年快乐' },
        { employee_ref: 'E004', channel: 'email', email: 'e4@example.com', serial: order.serials[5] },
      ],
    });
    expect(response.status).toBe(201);
    const created = response.body;
    expect(created).toMatchObject({
      object: 'distribution',
      order_id: order.orderId,
      status: 'sending',
      recipient_count: 4,
      counts: { queued: 3, sent: 1, scheduled: 0 },
    });
    expect(created.link_recipients).toHaveLength(1);
    const link = created.link_recipients[0];
    expect(link).toMatchObject({ employee_ref: 'E003', status: 'sent', greeting: '新年快乐', face_value: 10_000 });
    const token = /\/claim\/([A-Za-z0-9_-]{43})$/.exec(link.claim_url)![1];

    const rows = await app.dataSource.query(
      `SELECT employee_ref, card_serial::text AS serial, status, mobile, claim_token_hash, claim_expires_at
         FROM distribution_recipients WHERE distribution_id = $1 ORDER BY row_number`,
      [created.id],
    );
    expect(rows.map((row: { employee_ref: string }) => row.employee_ref)).toEqual(['E001', 'E002', 'E003', 'E004']);
    expect(new Set(rows.map((row: { serial: string }) => row.serial)).size).toBe(4);
    expect(rows[1].mobile).toBe('+8613912345678');
    expect(rows[3].serial).toBe(order.serials[5]);
    // The token itself is nowhere: only its SHA-256.
    expect(rows[2].claim_token_hash.equals(createHash('sha256').update(token).digest())).toBe(true);
    expect(rows[2].claim_expires_at.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    const listed = await app.http
      .get(`/v1/distributions/${created.id}/recipients`)
      .auth(order.token, { type: 'bearer' })
      .expect(200);
    expect(listed.body.data).toHaveLength(4);
    expect(JSON.stringify(listed.body)).not.toContain(token);
    expect(listed.body.data[0]).not.toHaveProperty('claim_url');
    const queued = await app.http
      .get(`/v1/distributions/${created.id}/recipients?status=sent`)
      .auth(order.token, { type: 'bearer' })
      .expect(200);
    // The in-process sender may already have sent the SMS (sent too) and the e-mails (delivered).
    const sent = queued.body.data.map((r: { employee_ref: string }) => r.employee_ref);
    expect(sent).toContain('E003');
    expect(sent.every((ref: string) => ref === 'E003' || ref === 'E002')).toBe(true);

    const got = await app.http.get(`/v1/distributions/${created.id}`).auth(order.token, { type: 'bearer' }).expect(200);
    const counts = got.body.counts as Record<string, number>;
    expect(got.body.id).toBe(created.id);
    expect(counts.queued + counts.sent + counts.delivered).toBe(4);
    expect(counts.sent).toBeGreaterThanOrEqual(1);
    expect(got.body.rate_per_minute).toBeGreaterThanOrEqual(0.2);
    const list = await app.http
      .get(`/v1/distributions?order_id=${order.orderId}`)
      .auth(order.token, { type: 'bearer' })
      .expect(200);
    expect(list.body.data.map((d: { id: string }) => d.id)).toEqual([created.id]);

    const [event] = await app.dataSource.query(
      "SELECT data FROM events WHERE type = 'distribution.created' AND data->>'distribution_id' = $1",
      [created.id],
    );
    expect(event.data).toMatchObject({ order_id: order.orderId, recipient_count: 4 });
    expect(JSON.stringify(event.data)).not.toContain(token);
    // The distribution's own record, committed with it, holds the digest of the assignments' summary; the audit
    // job (the in-process worker) then appends the summary itself, which has that digest.
    const auditOf = (action: string) =>
      app.dataSource.query<Array<{ data: { summary: Record<string, unknown> } }>>(
        `SELECT data FROM audit_records WHERE object_id = $1 AND action = $2
         UNION ALL
         SELECT data FROM audit_pending WHERE object_id = $1 AND action = $2`,
        [created.id, action],
      );
    const [distributed] = await auditOf('distribution.created');
    expect(distributed.data.summary).toMatchObject({
      order_id: order.orderId,
      recipient_count: 4,
      assignment_records: 1,
    });
    const assigned = await waitFor(
      () => auditOf('distribution.cards_assigned'),
      (records) => records.length > 0,
      { what: "the assignments' audit summary" },
    );
    expect(assigned).toHaveLength(1);
    const summary = assigned[0].data.summary as { assignments: Array<Record<string, unknown>> };
    expect(summary.assignments[3]).toEqual({ row: 4, employee_ref: 'E004', serial: order.serials[5] });
    expect(createHash('sha256').update(canonicalJson(summary)).digest('hex')).toBe(
      (distributed.data.summary.assignment_sha256 as string[])[0],
    );
    expect(JSON.stringify(assigned)).not.toContain('example.com');
    const [marked] = await app.dataSource.query('SELECT assignments_audited_at FROM distributions WHERE id = $1', [
      created.id,
    ]);
    expect(marked.assignments_audited_at).not.toBeNull();
    // The statement built the summary as canonical JSON text: the chain's walk recomputes every record's MAC.
    expect(await app.app.get(AuditService).verify(RequestContext.system())).toMatchObject({ ok: true });
  });

  it('reports every bad row with its row, field and code, and reserves nothing', async () => {
    const order = await issuedOrder();
    const response = await post(order.token, {
      order_id: order.orderId,
      recipients: [
        { employee_ref: 'E1', channel: 'email', email: 'ok@example.com', face_value: 10_000 },
        { employee_ref: 'E2', channel: 'email', email: 'not-an-address', face_value: 10_000 },
        { employee_ref: 'E3', channel: 'sms', mobile: '12345', face_value: 10_000 },
        { employee_ref: 'E1', channel: 'link', face_value: 10_000 },
        { employee_ref: 'E5', channel: 'pigeon', face_value: 10_000 },
      ],
    });
    expect(response.status).toBe(422);
    expect(response.body.code).toBe('invalid_recipients');
    expect(response.body.error_count).toBe(4);
    expect(
      response.body.errors.map((e: { row: number; field: string; code: string }) => [e.row, e.field, e.code]),
    ).toEqual([
      [2, 'email', 'invalid_email'],
      [3, 'mobile', 'invalid_mobile'],
      [4, 'employee_ref', 'duplicate_recipient'],
      [5, 'channel', 'invalid_channel'],
    ]);
    // Against the order: a face value it does not have, a serial of another order.
    const other = await post(order.token, {
      order_id: order.orderId,
      recipients: [
        { employee_ref: 'E1', channel: 'link', face_value: 10_000 },
        { employee_ref: 'E2', channel: 'link', face_value: 20_000 },
        { employee_ref: 'E3', channel: 'link', serial: '10000000000000009' },
      ],
    });
    expect(other.status).toBe(422);
    expect(other.body.errors.map((e: { row: number; code: string }) => [e.row, e.code])).toEqual([
      [2, 'face_value_not_in_order'],
      [3, expect.stringMatching(/^(serial_not_in_order|invalid_serial)$/)],
    ]);
    expect(await assignedCount(order.orderId)).toBe(0);
  });

  it('refuses too few free cards with the counts per face value, reserving nothing', async () => {
    const order = await issuedOrder(2);
    const recipients = Array.from({ length: 3 }, (_, i) => ({
      employee_ref: `E${i}`,
      channel: 'link',
      face_value: 10_000,
    }));
    const response = await post(order.token, {
      order_id: order.orderId,
      recipients: [...recipients, { employee_ref: 'X', channel: 'link', face_value: 50_000 }],
    });
    expect(response.status).toBe(422);
    expect(response.body.code).toBe('insufficient_cards');
    expect(response.body.cards).toEqual(
      expect.arrayContaining([
        { face_value: 10_000, card_type: 'anonymous', requested: 3, free: 2 },
        { face_value: 50_000, card_type: 'anonymous', requested: 1, free: 3 },
      ]),
    );
    expect(await assignedCount(order.orderId)).toBe(0);
  });

  it('assigns each card at most once under 20 concurrent distributions of the same order', async () => {
    const order = await issuedOrder(30);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post(order.token, {
          order_id: order.orderId,
          recipients: [0, 1].map((j) => ({ employee_ref: `C${i}-${j}`, channel: 'link', face_value: 10_000 })),
        }),
      ),
    );
    const statuses = results.map((result) => result.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(15);
    expect(statuses.filter((status) => status === 422)).toHaveLength(5);
    for (const result of results.filter((r) => r.status === 422)) expect(result.body.code).toBe('insufficient_cards');
    const [counts] = await app.dataSource.query(
      `SELECT count(*)::int AS n, count(DISTINCT card_serial)::int AS cards
         FROM distribution_recipients r JOIN distributions d ON d.id = r.distribution_id WHERE d.order_id = $1`,
      [order.orderId],
    );
    expect(counts).toEqual({ n: 30, cards: 30 });
  });

  it('needs the real name for registered cards, stores it sealed and shows it masked', async () => {
    const order = await issuedOrder();
    const without = await post(order.token, {
      order_id: order.orderId,
      recipients: [{ employee_ref: 'R1', channel: 'sms', mobile: '13812345678', face_value: 100_000 }],
    });
    expect(without.status).toBe(422);
    expect(without.body).toMatchObject({
      code: 'real_name_required',
      errors: [{ row: 1, field: 'real_name', code: 'real_name_required' }],
    });
    const badId = await post(order.token, {
      order_id: order.orderId,
      recipients: [
        {
          employee_ref: 'R1',
          channel: 'sms',
          mobile: '13812345678',
          face_value: 100_000,
          real_name: { ...REAL_NAME, id_number: '110105194912310021' },
        },
      ],
    });
    expect(badId.status).toBe(422);
    expect(badId.body.errors).toEqual([
      expect.objectContaining({ field: 'real_name.id_number', code: 'invalid_id_number' }),
    ]);

    const created = await post(order.token, {
      order_id: order.orderId,
      recipients: [
        { employee_ref: 'R1', channel: 'link', face_value: 100_000, real_name: REAL_NAME },
        // An anonymous card keeps no identity, even when one is given.
        { employee_ref: 'A1', channel: 'link', face_value: 10_000, real_name: REAL_NAME },
      ],
    });
    expect(created.status).toBe(201);
    const [registeredRecipient, anonymousRecipient] = created.body.link_recipients;
    expect(registeredRecipient.real_name).toEqual({
      name: '张*',
      id_type: 'resident_id',
      id_number: '110***********002X',
      mobile: '+86 138****5678',
    });
    expect(anonymousRecipient.real_name).toBeNull();
    const [row] = await app.dataSource.query('SELECT real_name_sealed FROM distribution_recipients WHERE id = $1', [
      registeredRecipient.id,
    ]);
    expect(row.real_name_sealed).toMatch(/^v2\./);
    expect(row.real_name_sealed).not.toContain(RESIDENT_ID);
    const listed = await app.http
      .get(`/v1/distributions/${created.body.id}/recipients`)
      .auth(order.token, { type: 'bearer' })
      .expect(200);
    expect(JSON.stringify(listed.body)).not.toContain(RESIDENT_ID);
  });

  it('replays a retry with the same Idempotency-Key and reserves nothing twice', async () => {
    const order = await issuedOrder();
    const body = { order_id: order.orderId, recipients: [{ employee_ref: 'I1', channel: 'link', face_value: 10_000 }] };
    const first = await post(order.token, body, 'dst-key-1').expect(201);
    const again = await post(order.token, body, 'dst-key-1').expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await assignedCount(order.orderId)).toBe(1);
    const other = await post(
      order.token,
      { ...body, recipients: [{ ...body.recipients[0], employee_ref: 'I2' }] },
      'dst-key-1',
    );
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('idempotency_key_reused');
  });

  it('refuses an order whose codes were exported, and exports of a distributed order', async () => {
    const exported = await issuedOrder(2);
    await app.dataSource.query(
      `INSERT INTO card_exports (id, order_id, enterprise_id, requested_by_client_id, status, encryption)
       SELECT $1, id, enterprise_id, created_by_client_id, 'ready', '{}' FROM orders WHERE id = $2`,
      [newId('export'), exported.orderId],
    );
    const refused = await post(exported.token, {
      order_id: exported.orderId,
      recipients: [{ employee_ref: 'X1', channel: 'link', face_value: 10_000 }],
    });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('order_exported');

    const distributed = await issuedOrder(2);
    await post(distributed.token, {
      order_id: distributed.orderId,
      recipients: [{ employee_ref: 'X1', channel: 'link', face_value: 10_000 }],
    }).expect(201);
    const hooks = app.app.get(OrderLifecycleHooks);
    const error = await hooks
      .beforeExport(RequestContext.system(), distributed.orderId)
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ApiError);
    expect({ status: (error as ApiError).getStatus(), code: (error as ApiError).code }).toEqual({
      status: 409,
      code: 'order_distributed',
    });
    await expect(hooks.beforeExport(RequestContext.system(), exported.orderId)).resolves.toBeUndefined();
  });

  it('creates from a CSV file (with a BOM), once', async () => {
    const order = await issuedOrder();
    const csv =
      '\uFEFFemployee_ref,name,channel,email,mobile,face_value,greeting,real_name.name,real_name.id_type,real_name.id_number,real_name.mobile\n' +
      'F1,王芳,email,wang@example.com,,10000,恭喜,,,,\n' +
      'F2,,sms,,13700001111,50000,,,,,\n' +
      `F3,赵六,link,,,100000,,赵六,resident_id,${RESIDENT_ID},13812345678\n`;
    const uploaded = await upload(order.token, 'staff.csv', Buffer.from(csv, 'utf8'), 'text/csv; charset=utf-8').expect(
      201,
    );
    expect(uploaded.body).toMatchObject({ object: 'distribution_file', format: 'csv', row_count: 3, error_count: 0 });
    const stored = await app.dataSource.query('SELECT * FROM distribution_file_rows WHERE file_id = $1', [
      uploaded.body.id,
    ]);
    expect(stored).toHaveLength(3);
    expect(JSON.stringify(stored)).not.toContain(RESIDENT_ID);
    await app.http.get(`/v1/distribution-files/${uploaded.body.id}`).auth(order.token, { type: 'bearer' }).expect(200);

    const created = await post(order.token, { order_id: order.orderId, file_id: uploaded.body.id });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ recipient_count: 3, file_id: uploaded.body.id });
    expect(created.body.link_recipients[0]).toMatchObject({ employee_ref: 'F3', real_name: { name: '赵*' } });
    const recipients = await app.dataSource.query(
      'SELECT employee_ref, name, mobile, greeting FROM distribution_recipients WHERE distribution_id = $1 ORDER BY row_number',
      [created.body.id],
    );
    expect(recipients).toEqual([
      { employee_ref: 'F1', name: '王芳', mobile: null, greeting: '恭喜' },
      { employee_ref: 'F2', name: null, mobile: '+8613700001111', greeting: null },
      { employee_ref: 'F3', name: '赵六', mobile: null, greeting: null },
    ]);
    const again = await post(order.token, { order_id: order.orderId, file_id: uploaded.body.id });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('file_already_used');
    // The file's rows (contacts, sealed real names) go with the assignments' audit job, once it has run.
    await waitUntil(
      "the file's rows deleted",
      async () =>
        (await app.dataSource.query('SELECT 1 FROM distribution_file_rows WHERE file_id = $1', [uploaded.body.id]))
          .length === 0,
    );
  });

  it("refuses a file's rows the order cannot serve, listing each refused group's rows, and reserves nothing", async () => {
    const order = await issuedOrder();
    const csv =
      'employee_ref,channel,face_value\n' +
      'G1,link,10000\nG2,link,20000\nG3,link,10000\nG4,link,20000\nG5,link,100000\nG6,link,20000\n';
    const uploaded = await upload(order.token, 'groups.csv', csv).expect(201);
    const refused = await post(order.token, { order_id: order.orderId, file_id: uploaded.body.id });
    expect(refused.status).toBe(422);
    expect(refused.body.error_count).toBe(4);
    expect(refused.body.errors.map((e: { row: number; code: string }) => [e.row, e.code])).toEqual([
      [2, 'face_value_not_in_order'],
      [4, 'face_value_not_in_order'],
      [5, 'real_name_required'],
      [6, 'face_value_not_in_order'],
    ]);
    expect(await assignedCount(order.orderId)).toBe(0);
  });

  it('reads an XLSX file as text: formulas as their formula, numbers as their digits', async () => {
    const order = await issuedOrder();
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('staff');
    sheet.addRow(['employee_ref', 'channel', 'mobile', 'face_value', 'greeting']);
    sheet.addRow(['X1', 'sms', 13700002222, 10000, 'hello']);
    sheet.addRow(['X2', 'link', null, 10000, { formula: 'HYPERLINK("http://evil.example","x")', result: 'x' }]);
    workbook.addWorksheet('ignored').addRow(['employee_ref']);
    const buffer = Buffer.from(await workbook.xlsx.writeBuffer());
    const uploaded = await upload(order.token, 'staff.xlsx', buffer, XLSX).expect(201);
    expect(uploaded.body).toMatchObject({ format: 'xlsx', row_count: 2, error_count: 0 });
    const created = await post(order.token, { order_id: order.orderId, file_id: uploaded.body.id }).expect(201);
    const recipients = await app.dataSource.query(
      'SELECT employee_ref, mobile, greeting FROM distribution_recipients WHERE distribution_id = $1 ORDER BY row_number',
      [created.body.id],
    );
    expect(recipients).toEqual([
      { employee_ref: 'X1', mobile: '+8613700002222', greeting: 'hello' },
      { employee_ref: 'X2', mobile: null, greeting: '=HYPERLINK("http://evil.example","x")' },
    ]);

    // The report escapes it, and every cell a spreadsheet would run.
    const report = await app.http
      .get(`/v1/distributions/${created.body.id}/report.csv`)
      .auth(order.token, { type: 'bearer' })
      .buffer(true)
      .parse(binaryBody)
      .expect(200);
    expect(report.headers['content-type']).toMatch(/^text\/csv/);
    const text = (report.body as Buffer).toString('utf8');
    expect(text.startsWith('\uFEFFrow_number,employee_ref')).toBe(true);
    expect(text.split('\n')).toHaveLength(4);
    expect(text).toContain('+8613700002222');
  });

  it('reports bad file rows, refuses to distribute that file, and refuses an oversized one with 413', async () => {
    const order = await issuedOrder();
    const csv = 'employee_ref,channel,email,face_value\nB1,email,bad-address,10000\n,link,,10000\nB3,link,,10000\n';
    const uploaded = await upload(order.token, 'bad.csv', csv).expect(201);
    expect(uploaded.body.error_count).toBe(2);
    expect(
      uploaded.body.errors.map((e: { row: number; field: string; code: string }) => [e.row, e.field, e.code]),
    ).toEqual([
      [1, 'email', 'invalid_email'],
      [2, 'employee_ref', 'employee_ref_required'],
    ]);
    const refused = await post(order.token, { order_id: order.orderId, file_id: uploaded.body.id });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('file_has_errors');

    const tooManyRows =
      'employee_ref,channel,face_value\n' + Array.from({ length: 201 }, (_, i) => `T${i},link,10000`).join('\n');
    const rows = await upload(order.token, 'big.csv', tooManyRows);
    expect(rows.status).toBe(413);
    expect(rows.body.code).toBe('file_too_large');
    const tooManyBytes = 'employee_ref,channel,face_value,greeting\n' + `T1,link,10000,${'x'.repeat(30_000)}\n`;
    const bytes = await upload(order.token, 'big.csv', tooManyBytes);
    expect(bytes.status).toBe(413);
    expect(bytes.headers['content-type']).toMatch(/problem\+json/);
    expect(bytes.body.code).toBe('file_too_large');
    // Anywhere else a CSV body is 415.
    const elsewhere = await app.http
      .post('/v1/distributions')
      .auth(order.token, { type: 'bearer' })
      .set('content-type', 'text/csv')
      .send('a,b\n');
    expect(elsewhere.status).toBe(415);
  });

  it('escapes cells a spreadsheet would run in the report, and shows no code or link', async () => {
    const order = await issuedOrder();
    const created = await post(order.token, {
      order_id: order.orderId,
      recipients: [
        { employee_ref: '=1+2', name: '@SUM(A1)', channel: 'link', face_value: 10_000 },
        { employee_ref: '-5', name: '+cmd', channel: 'email', email: 'a@example.com', face_value: 10_000 },
      ],
    }).expect(201);
    const token = /\/claim\/(.+)$/.exec(created.body.link_recipients[0].claim_url)![1];
    const report = await app.http
      .get(`/v1/distributions/${created.body.id}/report.csv`)
      .auth(order.token, { type: 'bearer' })
      .buffer(true)
      .parse(binaryBody)
      .expect(200);
    const lines = (report.body as Buffer)
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\n');
    expect(lines[1]).toMatch(/^1,'=1\+2,'@SUM\(A1\),link,/);
    expect(lines[2]).toMatch(/^2,'-5,'\+cmd,email,a@example.com,/);
    expect(lines.join('\n')).not.toContain(token);
  });

  it('keeps settings per enterprise within their bounds', async () => {
    const order = await issuedOrder(1);
    const read = await app.http.get('/v1/distribution-settings').auth(order.token, { type: 'bearer' }).expect(200);
    expect(read.body).toEqual({
      object: 'distribution_settings',
      from_name: null,
      code_in_message: false,
      claim_link_ttl_days: 30,
      updated_at: null,
    });
    await app.http
      .put('/v1/distribution-settings')
      .auth(order.token, { type: 'bearer' })
      .send({ claim_link_ttl_days: 91 })
      .expect(400);
    const saved = await app.http
      .put('/v1/distribution-settings')
      .auth(order.token, { type: 'bearer' })
      .send({ from_name: '示例科技 HR', claim_link_ttl_days: 7 })
      .expect(200);
    expect(saved.body).toMatchObject({ from_name: '示例科技 HR', code_in_message: false, claim_link_ttl_days: 7 });
    const created = await post(order.token, {
      order_id: order.orderId,
      recipients: [{ employee_ref: 'S1', channel: 'link', face_value: 10_000 }],
    }).expect(201);
    const expires = new Date(created.body.link_recipients[0].claim_expires_at).getTime();
    expect(Math.abs(expires - (Date.now() + 7 * 86_400_000))).toBeLessThan(60_000);
  });
});
