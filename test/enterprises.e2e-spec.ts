import { randomUUID } from 'node:crypto';
import { digestOf } from '../src/common/canonical-json';
import { CREDIT_CODE_ALPHABET } from '../src/enterprises/credit-code';
import { RequestContext } from '../src/common/context/request-context';
import { TransactionService } from '../src/database/transaction.service';
import { EnterprisesService } from '../src/enterprises/enterprises.service';
import { startTestApp, type TestApp } from './support/app';
import { enterpriseWithClient, newCreditCode } from './support/fixtures';

const ENTERPRISE_ID = /^ent_[0-9A-HJKMNP-TV-Z]{26}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const PROBLEM = /^application\/problem\+json/;

interface EnterpriseBody {
  object: 'enterprise';
  id: string;
  name: string;
  credit_code: string;
  status: string;
  [field: string]: unknown;
}

interface AuditRecordBody {
  id: string;
  seq: number;
  action: string;
  object_id: string;
  enterprise_id: string | null;
  actor_client_id: string | null;
  data: { before_sha256: string | null; after_sha256: string | null; summary: Record<string, unknown> | null };
}

/** The distinct fields a validation problem names (one error per failed constraint). */
function fieldsOf(problem: { errors?: Array<{ field: string }> }): string[] {
  return [...new Set((problem.errors ?? []).map((error) => error.field))];
}

/** The same code with its check character replaced: well-formed, but fails the check. */
function withWrongCheck(code: string): string {
  const wrong = CREDIT_CODE_ALPHABET[(CREDIT_CODE_ALPHABET.indexOf(code[17]) + 1) % CREDIT_CODE_ALPHABET.length];
  return code.slice(0, 17) + wrong;
}

describe('admin enterprises', () => {
  let app: TestApp;
  let operator: string;

  beforeAll(async () => {
    app = await startTestApp();
    operator = await app.operatorToken();
  });
  afterAll(async () => {
    await app.close();
  });

  const post = (body: object, headers: Record<string, string> = {}) =>
    app.http.post('/v1/admin/enterprises').auth(operator, { type: 'bearer' }).set(headers).send(body);
  const patch = (id: string, body: object) =>
    app.http.patch(`/v1/admin/enterprises/${id}`).auth(operator, { type: 'bearer' }).send(body);
  const get = (path: string) => app.http.get(path).auth(operator, { type: 'bearer' });

  async function create(body: object = {}): Promise<EnterpriseBody> {
    const response = await post({ name: `E2E Co ${randomUUID()}`, credit_code: newCreditCode(), ...body }).expect(201);
    return response.body as EnterpriseBody;
  }

  async function auditOf(objectId: string): Promise<AuditRecordBody[]> {
    const response = await get(`/v1/admin/audit?object_id=${objectId}&limit=100`).expect(200);
    return response.body.data as AuditRecordBody[];
  }

  describe('POST /v1/admin/enterprises', () => {
    it('creates an enterprise with defaults and answers 201 with the enterprise', async () => {
      const code = newCreditCode();
      const name = `福州示例科技有限公司 ${randomUUID()}`;
      const response = await post({ name, credit_code: `  ${code.toLowerCase()} ` }).expect(201);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.body).toEqual({
        object: 'enterprise',
        id: expect.stringMatching(ENTERPRISE_ID),
        name,
        credit_code: code,
        status: 'active',
        invoice_title: name,
        registered_address: null,
        phone: null,
        bank_name: null,
        bank_account: null,
        contact_email: null,
        discount_bps: 0,
        credit_limit: 0,
        approval_threshold: null,
        currency: 'CNY',
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      });
    });

    it('stores every invoice and pricing detail', async () => {
      const body = {
        name: 'Example Trading Co., Ltd.',
        credit_code: newCreditCode(),
        invoice_title: '示例贸易有限公司',
        registered_address: '福州市鼓楼区示例路 1 号',
        phone: '0591-87654321',
        bank_name: '中国工商银行福州分行',
        bank_account: '1402 0210 0920 0012 345',
        contact_email: 'finance@example.cn',
        discount_bps: 350,
        credit_limit: 50_000_000,
      };
      const created = (await post(body).expect(201)).body as EnterpriseBody;
      expect(created).toMatchObject(body);
      const fetched = await get(`/v1/admin/enterprises/${created.id}`).expect(200);
      expect(fetched.body).toEqual(created);
    });

    it('refuses a code with a wrong check character with 422 invalid_credit_code', async () => {
      const response = await post({ name: 'Typo Co', credit_code: withWrongCheck(newCreditCode()) }).expect(422);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.body).toMatchObject({
        status: 422,
        code: 'invalid_credit_code',
        type: 'urn:fuli:problem:invalid_credit_code',
      });
    });

    it.each([
      ['too short', (code: string) => code.slice(0, 17)],
      ['too long', (code: string) => `${code}1`],
      ['letter O', (code: string) => `${code.slice(0, 10)}O${code.slice(11)}`],
    ])('refuses a malformed code (%s) with 400 validation_failed on credit_code', async (_label, mangle) => {
      const response = await post({ name: 'Malformed Co', credit_code: mangle(newCreditCode()) }).expect(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([
        { field: 'credit_code', code: 'invalid_value', message: expect.any(String) },
      ]);
    });

    it('refuses a registered code with 409 enterprise_exists naming the existing enterprise', async () => {
      const first = await create();
      const response = await post({ name: 'Copy Co', credit_code: first.credit_code.toLowerCase() }).expect(409);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.body).toMatchObject({ code: 'enterprise_exists', existing_id: first.id });
      expect(await auditOf(first.id)).toHaveLength(1);
    });

    it('creates exactly one enterprise when the same code is posted concurrently', async () => {
      const code = newCreditCode();
      const responses = await Promise.all(
        Array.from({ length: 6 }, (_, i) => post({ name: `Race ${i}`, credit_code: code })),
      );
      const created = responses.filter((response) => response.status === 201);
      expect(created).toHaveLength(1);
      const conflicts = responses.filter((response) => response.status === 409);
      expect(conflicts).toHaveLength(5);
      for (const conflict of conflicts)
        expect(conflict.body).toMatchObject({ code: 'enterprise_exists', existing_id: created[0].body.id });
      const listed = await get(`/v1/admin/enterprises?credit_code=${code}`).expect(200);
      expect(listed.body.data).toHaveLength(1);
    });

    it('refuses unknown fields with 400', async () => {
      const response = await post({ name: 'Extra Co', credit_code: newCreditCode(), tax_rate: 6 }).expect(400);
      expect(response.body).toMatchObject({
        code: 'validation_failed',
        errors: [{ field: 'tax_rate', message: "unknown field 'tax_rate'" }],
      });
    });

    it.each([
      ['discount_bps', 10_001],
      ['discount_bps', -1],
      ['credit_limit', -100],
      ['credit_limit', 12.5],
      ['credit_limit', '1000'],
      ['contact_email', 'nobody'],
    ])('refuses %s = %p with 400', async (field, value) => {
      const response = await post({ name: 'Bounds Co', credit_code: newCreditCode(), [field]: value }).expect(400);
      expect(fieldsOf(response.body)).toEqual([field]);
    });

    it('replays an Idempotency-Key retry without a second enterprise or audit record', async () => {
      const key = randomUUID();
      const body = { name: 'Retry Co', credit_code: newCreditCode() };
      const first = await post(body, { 'idempotency-key': key }).expect(201);
      const second = await post(body, { 'idempotency-key': key }).expect(201);
      expect(second.body).toEqual(first.body);
      expect(await auditOf(first.body.id as string)).toHaveLength(1);
    });

    it('is for operators only', async () => {
      await app.http.post('/v1/admin/enterprises').send({ name: 'Anon', credit_code: newCreditCode() }).expect(401);
      const { token } = await enterpriseWithClient(app, ['orders:read']);
      const response = await app.http
        .post('/v1/admin/enterprises')
        .auth(token, { type: 'bearer' })
        .send({ name: 'Tenant', credit_code: newCreditCode() })
        .expect(403);
      expect(response.body.code).toBeDefined();
      await app.http.get('/v1/admin/enterprises').auth(token, { type: 'bearer' }).expect(403);
    });
  });

  describe('GET /v1/admin/enterprises', () => {
    it('pages newest first with limit and starting_after', async () => {
      const mine = [await create(), await create(), await create()];
      const ids = mine.map((enterprise) => enterprise.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      // Other test files add enterprises concurrently: walk until ours have all gone by.
      while (!ids.every((id) => seen.includes(id))) {
        const response = await get(`/v1/admin/enterprises?limit=2${cursor ? `&starting_after=${cursor}` : ''}`).expect(
          200,
        );
        expect(response.body).toMatchObject({ object: 'list', has_more: expect.any(Boolean) });
        const page = (response.body.data as EnterpriseBody[]).map((enterprise) => enterprise.id);
        expect(page.length).toBeLessThanOrEqual(2);
        for (const id of page) if (cursor) expect(id < cursor).toBe(true);
        seen.push(...page);
        expect(response.body.next_cursor).toBe(response.body.has_more ? page[page.length - 1] : null);
        if (!response.body.has_more) break;
        cursor = response.body.next_cursor as string;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort().reverse()).toEqual(seen);
      expect(seen.filter((id) => ids.includes(id))).toEqual([...ids].reverse());
    });

    it('filters by credit_code (normalised) and by status', async () => {
      const target = await create();
      const byCode = await get(`/v1/admin/enterprises?credit_code=${target.credit_code.toLowerCase()}`).expect(200);
      expect(byCode.body).toEqual({ object: 'list', data: [target], has_more: false, next_cursor: null });

      await patch(target.id, { status: 'suspended' }).expect(200);
      const suspended = await get('/v1/admin/enterprises?status=suspended&limit=100').expect(200);
      expect((suspended.body.data as EnterpriseBody[]).every((enterprise) => enterprise.status === 'suspended')).toBe(
        true,
      );
      expect((suspended.body.data as EnterpriseBody[]).map((enterprise) => enterprise.id)).toContain(target.id);
      const active = await get(`/v1/admin/enterprises?status=active&credit_code=${target.credit_code}`).expect(200);
      expect(active.body.data).toEqual([]);
    });

    it('refuses bad filters with 400', async () => {
      await get('/v1/admin/enterprises?status=deleted').expect(400);
      await get('/v1/admin/enterprises?limit=101').expect(400);
      await get('/v1/admin/enterprises?starting_after=nope').expect(400);
      const response = await get('/v1/admin/enterprises?colour=red').expect(400);
      expect(response.body.errors[0].field).toBe('colour');
    });
  });

  describe('GET /v1/admin/enterprises/{id}', () => {
    it('answers 404 resource_not_found for an unknown id', async () => {
      const response = await get('/v1/admin/enterprises/ent_00000000000000000000000000').expect(404);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.body).toMatchObject({ status: 404, code: 'resource_not_found' });
      await get('/v1/admin/enterprises/not-an-id').expect(404);
    });
  });

  describe('GET /v1/enterprises/{id} (tenant)', () => {
    it('shows a tenant its own enterprise and answers 404 for any other, like a missing one', async () => {
      const { enterprise, token } = await enterpriseWithClient(app, ['orders:read']);
      const other = await create();
      const own = await app.http.get(`/v1/enterprises/${enterprise.id}`).auth(token, { type: 'bearer' }).expect(200);
      expect(own.body).toEqual((await get(`/v1/admin/enterprises/${enterprise.id}`).expect(200)).body);
      const foreign = await app.http.get(`/v1/enterprises/${other.id}`).auth(token, { type: 'bearer' }).expect(404);
      const missing = await app.http
        .get('/v1/enterprises/ent_00000000000000000000000000')
        .auth(token, { type: 'bearer' })
        .expect(404);
      expect(foreign.body.code).toBe('resource_not_found');
      expect({ ...foreign.body, detail: null, request_id: null }).toEqual({
        ...missing.body,
        detail: null,
        request_id: null,
      });
      expect(JSON.stringify(foreign.body)).not.toContain(other.name);
      await app.http.get(`/v1/enterprises/${enterprise.id}`).expect(401);
    });
  });

  describe('PATCH /v1/admin/enterprises/{id}', () => {
    it('updates details, pricing, credit line and status', async () => {
      const created = await create({ phone: '0591-1234567', registered_address: 'Old Road 1' });
      const changes = {
        name: 'Renamed Co',
        invoice_title: '新抬头有限公司',
        registered_address: null,
        bank_name: '招商银行',
        bank_account: '6225 8800 0000 0001',
        discount_bps: 500,
        credit_limit: 1_000_000,
        status: 'suspended',
      };
      const response = await patch(created.id, changes).expect(200);
      expect(response.body).toEqual({ ...created, ...changes, updated_at: expect.stringMatching(ISO) });
      expect(Date.parse(response.body.updated_at as string)).toBeGreaterThanOrEqual(
        Date.parse(created.updated_at as string),
      );
      const fetched = await get(`/v1/admin/enterprises/${created.id}`).expect(200);
      expect(fetched.body).toEqual(response.body);

      const reactivated = await patch(created.id, { status: 'active' }).expect(200);
      expect(reactivated.body.status).toBe('active');
    });

    it('refuses the credit code, nulls in required fields and unknown fields', async () => {
      const created = await create();
      const codeChange = await patch(created.id, { credit_code: newCreditCode() }).expect(400);
      expect(codeChange.body.errors[0].field).toBe('credit_code');
      const nulls = await patch(created.id, { name: null, discount_bps: null }).expect(400);
      expect(fieldsOf(nulls.body).sort()).toEqual(['discount_bps', 'name']);
      await patch(created.id, { discount_bps: 10_001 }).expect(400);
      await patch(created.id, { status: 'closed' }).expect(400);
      const unchanged = await get(`/v1/admin/enterprises/${created.id}`).expect(200);
      expect(unchanged.body).toEqual(created);
    });

    it('answers 404 for an unknown id', async () => {
      const response = await patch('ent_00000000000000000000000000', { name: 'Ghost' }).expect(404);
      expect(response.body.code).toBe('resource_not_found');
    });
  });

  describe('EnterprisesService.findActive (for other modules)', () => {
    it('returns an active enterprise, 404 for a missing one and 403 enterprise_suspended for a suspended one', async () => {
      const service = app.app.get(EnterprisesService);
      const active = await create();
      const suspended = await create();
      await patch(suspended.id, { status: 'suspended' }).expect(200);
      const ctx = RequestContext.system();
      await app.app.get(TransactionService).run(ctx, async () => {
        expect((await service.findActive(ctx, active.id, { lock: true })).creditCode).toBe(active.credit_code);
        await expect(service.findActive(ctx, suspended.id)).rejects.toMatchObject({ code: 'enterprise_suspended' });
        await expect(service.findActive(ctx, 'ent_00000000000000000000000000')).rejects.toMatchObject({
          code: 'resource_not_found',
        });
      });
    });
  });

  describe('audit trail', () => {
    it('records each create and update in the chain, with digests and no raw details', async () => {
      const created = await create({ bank_account: '9558 8010 0000 4242' });
      const updated = (await patch(created.id, { discount_bps: 300, credit_limit: 2_000_000 }).expect(200))
        .body as EnterpriseBody;
      // A PATCH that changes nothing writes nothing.
      await patch(created.id, { discount_bps: 300 }).expect(200);

      const records = await auditOf(created.id);
      expect(records.map((record) => record.action)).toEqual(['enterprise.updated', 'enterprise.created']);
      const [update, creation] = records;
      expect(update.seq).toBeGreaterThan(creation.seq);
      expect(creation).toMatchObject({
        object: 'audit_record',
        object_type: 'enterprise',
        object_id: created.id,
        enterprise_id: created.id,
        actor_client_id: expect.stringMatching(/^cli_/),
        request_id: expect.any(String),
        data: {
          before_sha256: null,
          after_sha256: digestOf(created),
          summary: { name: created.name, credit_code: created.credit_code, discount_bps: 0, credit_limit: 0 },
        },
      });
      expect(update.data).toEqual({
        before_sha256: digestOf(created),
        after_sha256: digestOf(updated),
        summary: {
          changed: ['discount_bps', 'credit_limit'],
          discount_bps: { from: 0, to: 300 },
          credit_limit: { from: 0, to: 2_000_000 },
        },
      });
      // Long fragments only: a short one like the last four digits turns up by chance in the random
      // digests and ids about once in 300 runs.
      const serialized = JSON.stringify(records);
      for (const fragment of ['9558 8010 0000 4242', '9558801000004242', '80100000']) {
        expect(serialized).not.toContain(fragment);
      }

      const verification = await get('/v1/admin/audit/verify').expect(200);
      expect(verification.body).toMatchObject({ object: 'audit_verification', ok: true, first_failure: null });
      expect(verification.body.records_checked).toBeGreaterThanOrEqual(update.seq);
    });
  });
});
