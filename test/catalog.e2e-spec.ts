import { randomUUID } from 'node:crypto';
import { CatalogService } from '../src/catalog/catalog.service';
import { RequestContext } from '../src/common/context/request-context';
import { TransactionService } from '../src/database/transaction.service';
import { startTestApp, type TestApp } from './support/app';
import { createClient, createEnterprise, enterpriseWithClient } from './support/fixtures';

const PRODUCT_ID = /^prd_[0-9A-HJKMNP-TV-Z]{26}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const PROBLEM = /^application\/problem\+json/;

interface ProductBody {
  object: 'product';
  id: string;
  name: string;
  card_type: 'anonymous' | 'registered';
  face_values: number[];
  active: boolean;
  [field: string]: unknown;
}

interface PricedProductBody extends ProductBody {
  prices: Array<{ face_value: number; price: number }>;
  discount_bps: number;
}

interface AuditRecordBody {
  action: string;
  object_type: string;
  object_id: string;
  enterprise_id: string | null;
  data: { before_sha256: string | null; after_sha256: string | null; summary: Record<string, unknown> | null };
}

/** The distinct fields a validation problem names. */
function fieldsOf(problem: { errors?: Array<{ field: string }> }): string[] {
  return [...new Set((problem.errors ?? []).map((error) => error.field))];
}

describe('catalog', () => {
  let app: TestApp;
  let operator: string;

  beforeAll(async () => {
    app = await startTestApp();
    operator = await app.operatorToken();
  });
  afterAll(async () => {
    await app.close();
  });

  const admin = {
    post: (body: object, headers: Record<string, string> = {}) =>
      app.http.post('/v1/admin/products').auth(operator, { type: 'bearer' }).set(headers).send(body),
    patch: (id: string, body: object) =>
      app.http.patch(`/v1/admin/products/${id}`).auth(operator, { type: 'bearer' }).send(body),
    get: (path: string) => app.http.get(path).auth(operator, { type: 'bearer' }),
  };

  const base = () => ({
    name: `E2E card ${randomUUID()}`,
    card_type: 'anonymous',
    face_values: [10_000, 5_000],
    validity_months: 36,
    designs: ['classic'],
  });

  async function create(body: object = {}): Promise<ProductBody> {
    const response = await admin.post({ ...base(), ...body }).expect(201);
    return response.body as ProductBody;
  }

  async function auditOf(objectId: string): Promise<AuditRecordBody[]> {
    const response = await admin.get(`/v1/admin/audit?object_id=${objectId}&limit=100`).expect(200);
    return response.body.data as AuditRecordBody[];
  }

  /**
   * Every item of a list endpoint, page by page (the database is shared with other test files, so the
   * tests below only ever look for the ids they created).
   */
  async function listAll<T extends { id: string }>(path: string, token: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    for (;;) {
      const separator = path.includes('?') ? '&' : '?';
      const response = await app.http
        .get(`${path}${separator}limit=100${cursor ? `&starting_after=${cursor}` : ''}`)
        .auth(token, { type: 'bearer' })
        .expect(200);
      expect(response.body).toMatchObject({ object: 'list', has_more: expect.any(Boolean) });
      items.push(...(response.body.data as T[]));
      if (!response.body.has_more) return items;
      cursor = response.body.next_cursor as string;
    }
  }

  describe('POST /v1/admin/products', () => {
    it('creates a product, sorts its face values, and answers 201 with it', async () => {
      const name = `福利电子卡 ${randomUUID()}`;
      const response = await admin
        .post({
          name: `  ${name} `,
          description: '春节员工福利',
          card_type: 'anonymous',
          face_values: [100_000, 5_000, 50_000],
          validity_months: 36,
          designs: ['spring_festival', 'classic'],
          greeting_allowed: true,
        })
        .expect(201);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.body).toEqual({
        object: 'product',
        id: expect.stringMatching(PRODUCT_ID),
        name,
        description: '春节员工福利',
        card_type: 'anonymous',
        face_values: [5_000, 50_000, 100_000],
        validity_months: 36,
        designs: ['spring_festival', 'classic'],
        greeting_allowed: true,
        active: true,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      });
      const fetched = await admin.get(`/v1/admin/products/${response.body.id}`).expect(200);
      expect(fetched.body).toEqual(response.body);
    });

    it('defaults greeting_allowed to false and active to true, and takes null validity as no expiry', async () => {
      const created = await create({ card_type: 'registered', face_values: [500_000], validity_months: null });
      expect(created).toMatchObject({
        card_type: 'registered',
        face_values: [500_000],
        validity_months: null,
        description: null,
        greeting_allowed: false,
        active: true,
      });
    });

    it('audits the creation', async () => {
      const created = await create();
      const records = await auditOf(created.id);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        action: 'product.created',
        object_type: 'product',
        object_id: created.id,
        enterprise_id: null,
        data: {
          before_sha256: null,
          after_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          summary: { name: created.name, card_type: 'anonymous', face_values: [5_000, 10_000], active: true },
        },
      });
    });

    it('replays an Idempotency-Key retry without a second product', async () => {
      const key = randomUUID();
      const body = base();
      const first = await admin.post(body, { 'idempotency-key': key }).expect(201);
      const second = await admin.post(body, { 'idempotency-key': key }).expect(201);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.body).toEqual(first.body);
      expect(await auditOf(first.body.id as string)).toHaveLength(1);
    });

    describe('compliance refusals (422)', () => {
      it('refuses an anonymous face value above 1,000 CNY with card_limit_exceeded', async () => {
        const response = await admin.post({ ...base(), face_values: [5_000, 100_001] }).expect(422);
        expect(response.headers['content-type']).toMatch(PROBLEM);
        expect(response.body).toMatchObject({
          type: 'urn:fuli:problem:card_limit_exceeded',
          status: 422,
          code: 'card_limit_exceeded',
          card_type: 'anonymous',
          face_value: 100_001,
          limit: 100_000,
        });
      });

      it('accepts an anonymous face value of exactly 1,000 CNY and registered ones up to 5,000 CNY', async () => {
        await create({ face_values: [100_000] });
        await create({ card_type: 'registered', face_values: [100_001, 500_000], validity_months: 12 });
      });

      it('refuses an anonymous product valid for less than 36 months with validity_too_short', async () => {
        const response = await admin.post({ ...base(), validity_months: 35 }).expect(422);
        expect(response.body).toMatchObject({
          code: 'validity_too_short',
          validity_months: 35,
          minimum_months: 36,
        });
      });

      it('stores nothing when refused', async () => {
        const name = `Refused ${randomUUID()}`;
        await admin.post({ ...base(), name, validity_months: 12 }).expect(422);
        const all = await listAll<ProductBody>('/v1/admin/products', operator);
        expect(all.some((product) => product.name === name)).toBe(false);
      });
    });

    describe('validation (400)', () => {
      it.each([4_999, 500_001])('refuses the face value %p, naming face_values', async (faceValue) => {
        const response = await admin.post({ ...base(), face_values: [10_000, faceValue] }).expect(400);
        expect(response.headers['content-type']).toMatch(PROBLEM);
        expect(response.body.code).toBe('invalid_amount');
        expect(response.body.errors).toEqual([
          {
            field: 'face_values',
            code: 'invalid_amount',
            message: 'each value in face_values must be a whole number of fen from 5,000 to 500,000',
          },
        ]);
        expect(fieldsOf(response.body)).toEqual(['face_values']);
      });

      it.each([
        ['face_values', [5_000, 5_000]],
        ['face_values', []],
        ['validity_months', 0],
        ['designs', []],
        ['designs', ['Not A Code']],
        ['card_type', 'gift'],
      ])('refuses %s = %p', async (field, value) => {
        const response = await admin.post({ ...base(), [field]: value }).expect(400);
        expect(fieldsOf(response.body)).toEqual([field]);
      });

      it('refuses unknown fields', async () => {
        const response = await admin.post({ ...base(), price: 4_500 }).expect(400);
        expect(response.body).toMatchObject({
          code: 'validation_failed',
          errors: [{ field: 'price', message: "unknown field 'price'" }],
        });
      });

      it('requires validity_months (null for no expiry)', async () => {
        const { validity_months: _omitted, ...body } = base();
        const response = await admin.post(body).expect(400);
        expect(fieldsOf(response.body)).toEqual(['validity_months']);
      });
    });

    it('is for operators only', async () => {
      await app.http.post('/v1/admin/products').send(base()).expect(401);
      const { token } = await enterpriseWithClient(app, ['products:read']);
      const response = await app.http.post('/v1/admin/products').auth(token, { type: 'bearer' }).send(base());
      expect(response.status).toBe(403);
      expect(response.body.code).toBe('insufficient_scope');
    });
  });

  describe('GET /v1/admin/products', () => {
    it('lists every product with card_type and active filters', async () => {
      const anonymous = await create();
      const registered = await create({ card_type: 'registered', face_values: [200_000], validity_months: null });
      const withdrawn = await create({ active: false });
      const mine = [anonymous.id, registered.id, withdrawn.id];

      const all = await listAll<ProductBody>('/v1/admin/products', operator);
      expect(all.filter((product) => mine.includes(product.id)).map((product) => product.id)).toEqual(
        [...mine].reverse(),
      );
      const ids = all.map((product) => product.id);
      expect([...ids].sort().reverse()).toEqual(ids);

      const registeredOnly = await listAll<ProductBody>('/v1/admin/products?card_type=registered', operator);
      expect(registeredOnly.every((product) => product.card_type === 'registered')).toBe(true);
      expect(registeredOnly.map((product) => product.id)).toContain(registered.id);
      expect(registeredOnly.map((product) => product.id)).not.toContain(anonymous.id);

      const inactive = await listAll<ProductBody>('/v1/admin/products?active=false', operator);
      expect(inactive.every((product) => !product.active)).toBe(true);
      expect(inactive.map((product) => product.id)).toContain(withdrawn.id);
      const active = await listAll<ProductBody>('/v1/admin/products?active=true&card_type=anonymous', operator);
      expect(active.map((product) => product.id)).toContain(anonymous.id);
      expect(active.map((product) => product.id)).not.toContain(withdrawn.id);
    });

    it('pages with limit and starting_after', async () => {
      const mine = [await create(), await create(), await create()].map((product) => product.id);
      // Other test files may add products in between: walk from our newest until the other two have gone by.
      const seen: string[] = [];
      let cursor = mine[2];
      while (!seen.includes(mine[0])) {
        const page = await admin.get(`/v1/admin/products?limit=2&starting_after=${cursor}`).expect(200);
        const ids = (page.body.data as ProductBody[]).map((product) => product.id);
        expect(ids.length).toBeGreaterThan(0);
        expect(ids.length).toBeLessThanOrEqual(2);
        for (const id of ids) expect(id < cursor).toBe(true);
        expect(page.body.next_cursor).toBe(page.body.has_more ? ids[ids.length - 1] : null);
        seen.push(...ids);
        if (!page.body.has_more) break;
        cursor = page.body.next_cursor as string;
      }
      expect([...seen].sort().reverse()).toEqual(seen);
      expect(seen.filter((id) => mine.includes(id))).toEqual([mine[1], mine[0]]);
    });

    it('refuses bad filters with 400', async () => {
      await admin.get('/v1/admin/products?active=yes').expect(400);
      await admin.get('/v1/admin/products?card_type=gift').expect(400);
      await admin.get('/v1/admin/products?limit=101').expect(400);
      const response = await admin.get('/v1/admin/products?colour=red').expect(400);
      expect(fieldsOf(response.body)).toEqual(['colour']);
    });

    it('answers 404 for an unknown product', async () => {
      const response = await admin.get('/v1/admin/products/prd_00000000000000000000000000').expect(404);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.body).toMatchObject({ status: 404, code: 'resource_not_found' });
    });
  });

  describe('PATCH /v1/admin/products/{id}', () => {
    it('updates any field, keeps face values sorted, and audits the change', async () => {
      const created = await create({ greeting_allowed: false });
      const changes = {
        name: `Renamed ${randomUUID()}`,
        description: 'now with a description',
        face_values: [20_000, 5_000],
        validity_months: 48,
        designs: ['classic', 'dragon_boat'],
        greeting_allowed: true,
      };
      const response = await admin.patch(created.id, changes).expect(200);
      expect(response.body).toEqual({
        ...created,
        ...changes,
        face_values: [5_000, 20_000],
        updated_at: expect.stringMatching(ISO),
      });
      expect((await admin.get(`/v1/admin/products/${created.id}`).expect(200)).body).toEqual(response.body);

      // The same values again change nothing and write no record.
      await admin.patch(created.id, { face_values: [5_000, 20_000], validity_months: 48 }).expect(200);

      const records = await auditOf(created.id);
      expect(records.map((record) => record.action)).toEqual(['product.updated', 'product.created']);
      expect(records[0]).toMatchObject({
        object_type: 'product',
        object_id: created.id,
        data: {
          before_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          after_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          summary: {
            changed: ['name', 'description', 'face_values', 'validity_months', 'designs', 'greeting_allowed'],
            face_values: { from: [5_000, 10_000], to: [5_000, 20_000] },
            validity_months: { from: 36, to: 48 },
            greeting_allowed: { from: false, to: true },
          },
        },
      });
      expect(records[0].data.summary).not.toHaveProperty('description');
    });

    it('refuses changes that break the compliance rules and leaves the product as it was', async () => {
      const registered = await create({ card_type: 'registered', face_values: [500_000], validity_months: 12 });
      const toAnonymous = await admin.patch(registered.id, { card_type: 'anonymous' }).expect(422);
      expect(toAnonymous.body).toMatchObject({ code: 'card_limit_exceeded', face_value: 500_000, limit: 100_000 });
      const shorter = await admin.patch(registered.id, { card_type: 'anonymous', face_values: [50_000] }).expect(422);
      expect(shorter.body.code).toBe('validity_too_short');
      const anonymous = await create();
      await admin.patch(anonymous.id, { face_values: [100_001] }).expect(422);
      await admin.patch(anonymous.id, { validity_months: 24 }).expect(422);
      await admin.patch(anonymous.id, { validity_months: null }).expect(200);

      expect((await admin.get(`/v1/admin/products/${registered.id}`).expect(200)).body).toEqual(registered);
      expect((await auditOf(registered.id)).map((record) => record.action)).toEqual(['product.created']);
    });

    it('refuses nulls in required fields, bad values and unknown fields with 400', async () => {
      const created = await create();
      const nulls = await admin.patch(created.id, { name: null, face_values: null, active: null }).expect(400);
      expect(fieldsOf(nulls.body).sort()).toEqual(['active', 'face_values', 'name']);
      const low = await admin.patch(created.id, { face_values: [4_999] }).expect(400);
      expect(fieldsOf(low.body)).toEqual(['face_values']);
      await admin.patch(created.id, { id: 'prd_other' }).expect(400);
    });

    it('answers 404 for an unknown product', async () => {
      const response = await admin.patch('prd_00000000000000000000000000', { name: 'Ghost' }).expect(404);
      expect(response.body.code).toBe('resource_not_found');
    });
  });

  describe('GET /v1/products (enterprise catalogue)', () => {
    let token: string;

    beforeAll(async () => {
      const enterprise = await createEnterprise(app, { discount_bps: 250 });
      const client = await createClient(app, { enterprise_id: enterprise.id, scopes: ['products:read'] });
      token = await app.tokenFor(client.id, client.client_secret);
    });

    const asEnterprise = (path: string) => app.http.get(path).auth(token, { type: 'bearer' });

    it("lists only active products, each face value with the enterprise's own price (250 bps)", async () => {
      const anonymous = await create({ face_values: [5_000, 5_020, 10_000, 100_000], greeting_allowed: true });
      const registered = await create({ card_type: 'registered', face_values: [500_000], validity_months: null });
      const withdrawn = await create({ active: false });
      const withdrawnLater = await create();
      await admin.patch(withdrawnLater.id, { active: false }).expect(200);

      const listed = await listAll<PricedProductBody>('/v1/products', token);
      expect(listed.every((product) => product.object === 'product' && product.discount_bps === 250)).toBe(true);
      const ids = listed.map((product) => product.id);
      expect(ids).toEqual(expect.arrayContaining([anonymous.id, registered.id]));
      expect(ids).not.toContain(withdrawn.id);
      expect(ids).not.toContain(withdrawnLater.id);
      expect(listed.every((product) => !('active' in product))).toBe(true);

      const mine = listed.find((product) => product.id === anonymous.id)!;
      expect(mine).toEqual({
        object: 'product',
        id: anonymous.id,
        name: anonymous.name,
        description: null,
        card_type: 'anonymous',
        face_values: [5_000, 5_020, 10_000, 100_000],
        prices: [
          { face_value: 5_000, price: 4_875 }, // 125 off
          { face_value: 5_020, price: 4_894 }, // 125.5 off, rounded half up to 126
          { face_value: 10_000, price: 9_750 },
          { face_value: 100_000, price: 97_500 },
        ],
        discount_bps: 250,
        currency: 'CNY',
        validity_months: 36,
        designs: ['classic'],
        greeting_allowed: true,
        updated_at: expect.stringMatching(ISO),
      });
      expect(listed.find((product) => product.id === registered.id)!.prices).toEqual([
        { face_value: 500_000, price: 487_500 },
      ]);
    });

    it('filters by card_type', async () => {
      const registered = await create({ card_type: 'registered', face_values: [300_000], validity_months: null });
      const anonymous = await create();
      const listed = await listAll<PricedProductBody>('/v1/products?card_type=registered', token);
      expect(listed.every((product) => product.card_type === 'registered')).toBe(true);
      expect(listed.map((product) => product.id)).toContain(registered.id);
      expect(listed.map((product) => product.id)).not.toContain(anonymous.id);
    });

    it('follows a change of the enterprise discount', async () => {
      const product = await create({ face_values: [10_000] });
      const other = await createEnterprise(app, { discount_bps: 0 });
      const client = await createClient(app, { enterprise_id: other.id, scopes: ['products:read'] });
      const otherToken = await app.tokenFor(client.id, client.client_secret);
      const get = () => app.http.get(`/v1/products/${product.id}`).auth(otherToken, { type: 'bearer' }).expect(200);
      expect((await get()).body.prices).toEqual([{ face_value: 10_000, price: 10_000 }]);
      await app.http
        .patch(`/v1/admin/enterprises/${other.id}`)
        .auth(operator, { type: 'bearer' })
        .send({ discount_bps: 1_000 })
        .expect(200);
      expect((await get()).body).toMatchObject({ discount_bps: 1_000, prices: [{ face_value: 10_000, price: 9_000 }] });
    });

    it('gets one active product with prices, and 404 for an inactive or unknown one', async () => {
      const product = await create({ face_values: [50_000] });
      const response = await asEnterprise(`/v1/products/${product.id}`).expect(200);
      expect(response.body).toMatchObject({
        object: 'product',
        id: product.id,
        prices: [{ face_value: 50_000, price: 48_750 }],
        discount_bps: 250,
      });

      await admin.patch(product.id, { active: false }).expect(200);
      const inactive = await asEnterprise(`/v1/products/${product.id}`).expect(404);
      expect(inactive.headers['content-type']).toMatch(PROBLEM);
      expect(inactive.body).toMatchObject({ status: 404, code: 'resource_not_found' });
      const unknown = await asEnterprise('/v1/products/prd_00000000000000000000000000').expect(404);
      expect({ ...inactive.body, detail: null, request_id: null }).toEqual({
        ...unknown.body,
        detail: null,
        request_id: null,
      });

      await admin.patch(product.id, { active: true }).expect(200);
      await asEnterprise(`/v1/products/${product.id}`).expect(200);
    });

    it('answers 403 to a token without products:read and 401 without a token', async () => {
      const { token: ordersOnly } = await enterpriseWithClient(app, ['orders:read']);
      for (const path of ['/v1/products', '/v1/products/prd_00000000000000000000000000']) {
        const response = await app.http.get(path).auth(ordersOnly, { type: 'bearer' }).expect(403);
        expect(response.headers['content-type']).toMatch(PROBLEM);
        expect(response.body.code).toBe('insufficient_scope');
      }
      // The operator holds admin, not products:read: the catalogue with prices is an enterprise view.
      await app.http.get('/v1/products').auth(operator, { type: 'bearer' }).expect(403);
      await app.http.get('/v1/products').expect(401);
    });

    it('refuses bad filters with 400', async () => {
      await asEnterprise('/v1/products?card_type=gift').expect(400);
      await asEnterprise('/v1/products?active=false').expect(400);
    });
  });

  describe('CatalogService.findForOrder (for the orders module)', () => {
    it('returns the active products among the ids, by id; unknown and inactive ones are absent', async () => {
      const service = app.app.get(CatalogService);
      const active = await create({ face_values: [5_000, 100_000] });
      const inactive = await create({ active: false });
      const ctx = RequestContext.system();
      await app.app.get(TransactionService).run(ctx, async () => {
        const found = await service.findForOrder(ctx, [
          active.id,
          inactive.id,
          'prd_00000000000000000000000000',
          active.id,
        ]);
        expect([...found.keys()]).toEqual([active.id]);
        expect(found.get(active.id)).toMatchObject({
          id: active.id,
          cardType: 'anonymous',
          faceValues: [5_000, 100_000],
          validityMonths: 36,
          designs: ['classic'],
          greetingAllowed: false,
          active: true,
        });
        expect((await service.findForOrder(ctx, [])).size).toBe(0);
      });
      const unlocked = await service.findForOrder(RequestContext.system(), [active.id], { lock: false });
      expect(unlocked.has(active.id)).toBe(true);
    });

    it('holds the rows FOR SHARE: a PATCH waits until the order transaction ends', async () => {
      const service = app.app.get(CatalogService);
      const product = await create();
      const events: string[] = [];
      let patched: Promise<unknown> | undefined;
      const ctx = RequestContext.system();
      await app.app.get(TransactionService).run(ctx, async () => {
        await service.findForOrder(ctx, [product.id]);
        patched = admin
          .patch(product.id, { name: `Renamed ${randomUUID()}` })
          .expect(200)
          .then(() => events.push('patched'));
        await new Promise((resolve) => setTimeout(resolve, 300));
        events.push('order committed');
      });
      await patched;
      expect(events).toEqual(['order committed', 'patched']);
    });
  });

  describe('with COMPLIANCE_ENFORCED=false (a second app on the same database)', () => {
    let lenient: TestApp;
    let lenientOperator: string;

    beforeAll(async () => {
      lenient = await startTestApp({ COMPLIANCE_ENFORCED: 'false' });
      lenientOperator = await lenient.operatorToken();
    });
    afterAll(async () => {
      await lenient.close();
    });

    const postLenient = (body: object) =>
      lenient.http.post('/v1/admin/products').auth(lenientOperator, { type: 'bearer' }).send(body);

    it('accepts products the rules would refuse, but still validates the request', async () => {
      const response = await postLenient({ ...base(), face_values: [500_000], validity_months: 6 }).expect(201);
      expect(response.body).toMatchObject({ card_type: 'anonymous', face_values: [500_000], validity_months: 6 });
      const tooBig = await postLenient({ ...base(), face_values: [500_001] }).expect(400);
      expect(fieldsOf(tooBig.body)).toEqual(['face_values']);
    });

    it('lets the enforcing app withdraw or rename such a product, but not re-activate it', async () => {
      const created = (await postLenient({ ...base(), face_values: [200_000], validity_months: 12 }).expect(201))
        .body as ProductBody;
      await admin.patch(created.id, { name: `Renamed ${randomUUID()}` }).expect(200);
      await admin.patch(created.id, { active: false }).expect(200);
      const reactivated = await admin.patch(created.id, { active: true }).expect(422);
      expect(reactivated.body.code).toBe('card_limit_exceeded');
      await admin.patch(created.id, { active: true, face_values: [100_000], validity_months: 36 }).expect(200);
    });
  });
});
