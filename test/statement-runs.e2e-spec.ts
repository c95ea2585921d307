import { createHash } from 'node:crypto';
import ExcelJS from 'exceljs';
import { startTestApp, type TestApp } from './support/app';
import { waitForIssued } from './support/cards';
import { createProduct, enterpriseWithClient, recordTransfer } from './support/fixtures';
import { binaryBody } from './support/http-body';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

type Run = {
  id: string;
  status: string;
  download_url: string | null;
  size_bytes: number | null;
  sha256: string | null;
};

describe('statement runs: statement files built by a worker', () => {
  let app: TestApp;
  let operator: string;
  let f: Awaited<ReturnType<typeof enterpriseWithClient>>;
  const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
  let keyNo = 0;
  const as = (token: string) => ({
    get: (path: string) => app.http.get(path).auth(token, { type: 'bearer' }),
    post: (path: string, body: object) =>
      app.http
        .post(path)
        .auth(token, { type: 'bearer' })
        .set('Idempotency-Key', `stmrun-${Date.now()}-${keyNo++}`)
        .send(body),
  });

  async function ready(id: string): Promise<Run> {
    for (let i = 0; i < 200; i++) {
      const run = (await as(f.token).get(`/v1/statement-runs/${id}`).expect(200)).body as Run;
      if (run.status !== 'building') return run;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`statement run ${id} still building`);
  }

  beforeAll(async () => {
    app = await startTestApp({ ISSUANCE_DELAY_SECONDS: '0', RATE_LIMIT_REQUESTS: '100000' });
    operator = await app.operatorToken();
    const productId = (await createProduct(app)).id;
    f = await enterpriseWithClient(app, ['orders:write', 'orders:read', 'orders:approve', 'reconciliation:read']);
    await recordTransfer(app, operator, {
      enterprise_id: f.enterprise.id,
      payer_account_name: f.enterprise.name,
      amount: 50_000,
      bank_reference: `RUN-${Date.now()}`,
    }).expect(201);
    const placed = await as(f.token)
      .post('/v1/orders', {
        po_number: `=PO-${Date.now()}`,
        payment_method: 'prepaid_balance',
        lines: [{ product_id: productId, face_value: 10_000, quantity: 3 }],
      })
      .expect(201);
    await as(f.token).post(`/v1/orders/${placed.body.id}/pay`, {}).expect(200);
    await waitForIssued(app, placed.body.id as string);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('builds the CSV the request would stream, stores it, announces statement.ready and serves it', async () => {
    const created = await as(f.token)
      .post('/v1/statement-runs', { from: '2020-01-01', to: today, format: 'csv' })
      .expect(202);
    expect(created.body).toMatchObject({
      object: 'statement_run',
      status: 'building',
      format: 'csv',
      download_url: null,
    });
    const run = await ready(created.body.id as string);
    expect(run.status).toBe('ready');
    expect(run.download_url).toMatch(new RegExp(`/v1/statement-runs/${run.id}/file$`));
    const file = await as(f.token).get(`/v1/statement-runs/${run.id}/file`).expect(200);
    expect(file.headers['content-type']).toContain('text/csv');
    const streamed = await as(f.token).get(`/v1/statements?from=2020-01-01&to=${today}&format=csv`).expect(200);
    expect(file.text).toBe(streamed.text);
    expect(file.text).toContain("'=PO-");
    const bytes = Buffer.from(file.text, 'utf8');
    expect(run.size_bytes).toBe(bytes.length);
    expect(run.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const [event] = await app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
      "SELECT data FROM events WHERE type = 'statement.ready' AND enterprise_id = $1 AND data->>'statement_run_id' = $2",
      [f.enterprise.id, run.id],
    );
    expect(event.data).toMatchObject({ format: 'csv', size_bytes: run.size_bytes, sha256: run.sha256 });
    expect(event.data.download_url).toBe(run.download_url);
  });

  it('builds XLSX with the same lines', async () => {
    const created = await as(f.token)
      .post('/v1/statement-runs', { from: '2020-01-01', to: today, format: 'xlsx' })
      .expect(202);
    const run = await ready(created.body.id as string);
    const file = await as(f.token).get(`/v1/statement-runs/${run.id}/file`).buffer(true).parse(binaryBody).expect(200);
    expect(file.headers['content-type']).toBe(XLSX);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(file.body);
    const streamed = await as(f.token).get(`/v1/statements?from=2020-01-01&to=${today}&format=csv`).expect(200);
    const csvRows = streamed.text.trim().split('\n').length;
    expect(workbook.worksheets[0].rowCount).toBe(csvRows);
  });

  it('answers 409 while building, 410 once failed or expired, 404 to another enterprise', async () => {
    const created = await as(f.token)
      .post('/v1/statement-runs', { from: '2020-01-01', to: today, format: 'csv' })
      .expect(202);
    const id = created.body.id as string;
    await ready(id);
    const other = await enterpriseWithClient(app, ['reconciliation:read']);
    expect((await as(other.token).get(`/v1/statement-runs/${id}`).expect(404)).body.code).toBe('resource_not_found');
    await as(other.token).get(`/v1/statement-runs/${id}/file`).expect(404);

    await app.dataSource.query("UPDATE statement_runs SET status = 'building' WHERE id = $1", [id]);
    expect((await as(f.token).get(`/v1/statement-runs/${id}/file`).expect(409)).body.code).toBe(
      'statement_run_not_ready',
    );
    await app.dataSource.query("UPDATE statement_runs SET status = 'ready' WHERE id = $1", [id]);
    await app.dataSource.query("UPDATE stored_files SET expires_at = now() - interval '1 second' WHERE key = $1", [
      `statements/${id}.csv`,
    ]);
    expect((await as(f.token).get(`/v1/statement-runs/${id}/file`).expect(410)).body.code).toBe(
      'statement_run_expired',
    );
    await app.dataSource.query("UPDATE statement_runs SET status = 'failed' WHERE id = $1", [id]);
    expect((await as(f.token).get(`/v1/statement-runs/${id}/file`).expect(410)).body.code).toBe(
      'statement_run_expired',
    );
  });

  it('refuses bad input with its code', async () => {
    const post = (body: object) => as(f.token).post('/v1/statement-runs', body).expect(400);
    expect((await post({ from: '2026-02-30', to: today, format: 'csv' })).body.code).toBe('invalid_date');
    expect((await post({ from: '2026-12-02', to: '2026-12-01', format: 'csv' })).body.code).toBe('invalid_period');
    expect((await post({ from: '2026-12-01T00:00:00Z', to: '2026-12-01T00:00:00Z', format: 'csv' })).body.code).toBe(
      'invalid_period',
    );
    expect((await post({ from: '2026-12-01', to: '2026-12-01', format: 'pdf' })).body.code).toBe('validation_failed');
    expect((await post({ to: '2026-12-01', format: 'csv' })).body.code).toBe('validation_failed');
  });
});
