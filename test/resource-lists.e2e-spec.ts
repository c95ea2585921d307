import { randomInt } from 'node:crypto';
import { generateKey } from 'openpgp';
import { startTestApp, type TestApp } from './support/app';
import { waitForIssued } from './support/cards';
import { confirmedExportKey } from './support/export-keys';
import { createClient, createEnterprise, createProduct, recordTransfer, type ProductFixture } from './support/fixtures';

interface Listed {
  object: 'list';
  data: Array<{ id: string; [field: string]: unknown }>;
  has_more: boolean;
  next_cursor: string | null;
}

interface Tenant {
  id: string;
  name: string;
  /** orders, cards:secrets and webhooks: every read these lists need. */
  token: string;
  approver: string;
  exportKey: string;
  /** Paid orders, oldest first, and their batches. */
  orders: string[];
  deposit: string;
}

/** Every id of a list, page by page (`limit` per page), checking the cursor chain as it goes. */
async function walk(app: TestApp, token: string, path: string, query: Record<string, string>, limit: number) {
  const ids: string[] = [];
  for (let cursor: string | null = null; ;) {
    const response = await app.http
      .get(path)
      .query({ ...query, limit: String(limit), ...(cursor ? { starting_after: cursor } : {}) })
      .auth(token, { type: 'bearer' })
      .expect(200);
    const page = response.body as Listed;
    expect(page.object).toBe('list');
    expect(page.data.length).toBeLessThanOrEqual(limit);
    ids.push(...page.data.map((item) => item.id));
    if (!page.has_more) {
      expect(page.next_cursor).toBeNull();
      return ids;
    }
    expect(page.next_cursor).toBe(page.data[page.data.length - 1].id);
    cursor = page.next_cursor;
  }
}

/** Newest first: ids are time-sortable, so the list is in descending id order. */
const newestFirst = (ids: string[]) => [...ids].sort().reverse();

describe('every resource can be listed and fetched: batches, exports, payments', () => {
  let app: TestApp;
  let product: ProductFixture;
  let a: Tenant;
  let b: Tenant;

  async function tenant(orders: number): Promise<Tenant> {
    const operator = await app.operatorToken();
    const enterprise = await createEnterprise(app);
    const reader = await createClient(app, {
      enterprise_id: enterprise.id,
      scopes: ['orders:read', 'orders:write', 'cards:secrets'],
    });
    const approver = await createClient(app, { enterprise_id: enterprise.id, scopes: ['orders:approve'] });
    const token = await app.tokenFor(reader.id, reader.client_secret);
    const approverToken = await app.tokenFor(approver.id, approver.client_secret);
    const deposit = await recordTransfer(app, operator, {
      enterprise_id: enterprise.id,
      payer_account_name: enterprise.name,
      amount: 1_000_000,
    }).expect(201);
    const paid: string[] = [];
    for (let i = 0; i < orders; i++) {
      // Two lines: two batches per order.
      const placed = await app.http
        .post('/v1/orders')
        .auth(token, { type: 'bearer' })
        .send({
          po_number: `PO-LIST-${randomInt(1e9)}`,
          payment_method: 'bank_transfer',
          lines: [
            { product_id: product.id, face_value: 10_000, quantity: 2 },
            { product_id: product.id, face_value: 50_000, quantity: 1 },
          ],
        })
        .expect(201);
      const order = placed.body as { id: string; payable: number };
      await recordTransfer(app, operator, {
        enterprise_id: enterprise.id,
        payer_account_name: enterprise.name,
        amount: order.payable,
        kind: 'order_transfer',
        order_id: order.id,
      }).expect(201);
      paid.push(order.id);
    }
    for (const id of paid) await waitForIssued(app, id);
    const key = await generateKey({ userIDs: [{ name: 'ERP', email: 'erp@example.com' }], format: 'object' });
    const exportKey = await confirmedExportKey(
      app,
      { registrar: token, approver: approverToken },
      key.publicKey.armor(),
    );
    return {
      id: enterprise.id,
      name: enterprise.name,
      token,
      approver: approverToken,
      exportKey,
      orders: paid,
      deposit: (deposit.body as { id: string }).id,
    };
  }

  // Two tenants with issued orders and confirmed export keys: minutes on a loaded machine.
  beforeAll(async () => {
    app = await startTestApp();
    product = await createProduct(app);
    [a, b] = await Promise.all([tenant(3), tenant(1)]);
  }, 240_000);
  afterAll(async () => {
    await app?.close();
  });

  describe('GET /v1/batches', () => {
    it('pages through every batch of the tenant, newest first, and only its own', async () => {
      const ids = await walk(app, a.token, '/v1/batches', {}, 4);
      expect(ids).toHaveLength(6);
      expect(ids).toEqual(newestFirst(ids));
      const own = await app.dataSource.query<Array<{ id: string }>>(
        'SELECT id FROM issuance_batches WHERE enterprise_id = $1',
        [a.id],
      );
      expect(new Set(ids)).toEqual(new Set(own.map((row) => row.id)));
      const others = await walk(app, b.token, '/v1/batches', {}, 100);
      expect(others).toHaveLength(2);
      expect(others.some((id) => ids.includes(id))).toBe(false);
    });

    it('filters by order, status and creation time', async () => {
      const ofOrder = await app.http
        .get('/v1/batches')
        .query({ order_id: a.orders[1] })
        .auth(a.token, { type: 'bearer' })
        .expect(200);
      const batches = (ofOrder.body as Listed).data;
      expect(batches).toHaveLength(2);
      for (const batch of batches) {
        expect(batch).toMatchObject({ object: 'batch', order_id: a.orders[1], status: 'completed' });
        expect(batch.issued_count).toBe(batch.count);
        expect(typeof batch.created_at).toBe('string');
      }
      const fetched = await app.http.get(`/v1/batches/${batches[0].id}`).auth(a.token, { type: 'bearer' }).expect(200);
      expect(fetched.body).toEqual(batches[0]);

      const completed = await walk(app, a.token, '/v1/batches', { status: 'completed' }, 100);
      expect(completed).toHaveLength(6);
      expect(await walk(app, a.token, '/v1/batches', { status: 'failed' }, 100)).toEqual([]);

      // The creation range: the batches of the last order alone, by their own created_at.
      const last = (
        (
          await app.http
            .get('/v1/batches')
            .query({ order_id: a.orders[2] })
            .auth(a.token, { type: 'bearer' })
            .expect(200)
        ).body as Listed
      ).data;
      const from = last.map((batch) => String(batch.created_at)).sort()[0];
      const since = await walk(app, a.token, '/v1/batches', { created_gte: from }, 100);
      expect(new Set(since)).toEqual(new Set(last.map((batch) => batch.id)));
      const before = await walk(app, a.token, '/v1/batches', { created_lt: from }, 100);
      expect(before).toHaveLength(4);
      expect(before.some((id) => since.includes(id))).toBe(false);
    });

    it("answers another tenant's order with an empty list, and another tenant's batch with 404", async () => {
      const foreign = await app.http
        .get('/v1/batches')
        .query({ order_id: a.orders[0] })
        .auth(b.token, { type: 'bearer' })
        .expect(200);
      expect((foreign.body as Listed).data).toEqual([]);
      const [batch] = await walk(app, a.token, '/v1/batches', {}, 1);
      const refused = await app.http.get(`/v1/batches/${batch}`).auth(b.token, { type: 'bearer' }).expect(404);
      expect(refused.body).toMatchObject({ code: 'resource_not_found' });
    });

    it.each([
      [{ status: 'minted' }, 'status'],
      [{ order_id: 'ord_nope' }, 'order_id'],
      [{ created_gte: 'yesterday' }, 'created_gte'],
      [{ created_lt: '2026-13-01T00:00:00Z' }, 'created_lt'],
      [{ limit: '0' }, 'limit'],
      [{ starting_after: 'not-an-id' }, 'starting_after'],
      [{ enterprise_id: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' }, 'enterprise_id'],
    ])('refuses the bad filter %j with 400 and the field named', async (query, field) => {
      const response = await app.http
        .get('/v1/batches')
        .query(query)
        .auth(a.token, { type: 'bearer' })
        .expect(400)
        .expect('content-type', /application\/problem\+json/);
      const problem = response.body as { code: string; errors: Array<{ field: string; code: string }> };
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors).toEqual([
        expect.objectContaining({ field, code: field === 'enterprise_id' ? 'unknown_field' : 'invalid_value' }),
      ]);
    });

    it('needs orders:read', async () => {
      const enterprise = await createEnterprise(app);
      const client = await createClient(app, { enterprise_id: enterprise.id, scopes: ['cards:read'] });
      const token = await app.tokenFor(client.id, client.client_secret);
      const refused = await app.http.get('/v1/batches').auth(token, { type: 'bearer' }).expect(403);
      expect(refused.body).toMatchObject({ code: 'insufficient_scope' });
      await app.http.get('/v1/batches').expect(401);
    });
  });

  describe('GET /v1/exports', () => {
    let exports: string[];

    beforeAll(async () => {
      exports = [];
      for (const order of a.orders) {
        const created = await app.http
          .post(`/v1/orders/${order}/exports`)
          .auth(a.token, { type: 'bearer' })
          .send({ export_key_id: a.exportKey })
          .expect(202);
        exports.push((created.body as { id: string }).id);
      }
      await app.http
        .post(`/v1/orders/${b.orders[0]}/exports`)
        .auth(b.token, { type: 'bearer' })
        .send({ export_key_id: b.exportKey })
        .expect(202);
    });

    it('pages through the tenant’s exports newest first, never with a download link', async () => {
      const ids = await walk(app, a.token, '/v1/exports', {}, 2);
      expect(ids).toEqual(newestFirst(exports));
      const page = await app.http.get('/v1/exports').auth(a.token, { type: 'bearer' }).expect(200);
      for (const item of (page.body as Listed).data) {
        expect(item).toMatchObject({ object: 'card_export', download: null, export_key_id: a.exportKey });
      }
      expect(await walk(app, b.token, '/v1/exports', {}, 100)).toHaveLength(1);
    });

    it('filters by order and creation time', async () => {
      expect(await walk(app, a.token, '/v1/exports', { order_id: a.orders[1] }, 100)).toEqual([exports[1]]);
      expect(await walk(app, b.token, '/v1/exports', { order_id: a.orders[1] }, 100)).toEqual([]);
      const second = await app.http.get(`/v1/exports/${exports[1]}`).auth(a.token, { type: 'bearer' }).expect(200);
      const createdAt = (second.body as { created_at: string }).created_at;
      expect(new Set(await walk(app, a.token, '/v1/exports', { created_gte: createdAt }, 100))).toEqual(
        new Set(exports.slice(1)),
      );
      expect(await walk(app, a.token, '/v1/exports', { created_lt: createdAt }, 100)).toEqual([exports[0]]);
    });

    it('refuses bad filters with 400 and needs cards:secrets', async () => {
      const bad = await app.http
        .get('/v1/exports')
        .query({ order_id: 'ord_x', created_gte: 'soon' })
        .auth(a.token, { type: 'bearer' })
        .expect(400);
      const problem = bad.body as { code: string; errors: Array<{ field: string }> };
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors.map((error) => error.field).sort()).toEqual(['created_gte', 'order_id']);
      const refused = await app.http.get('/v1/exports').auth(a.approver, { type: 'bearer' }).expect(403);
      expect(refused.body).toMatchObject({ code: 'insufficient_scope' });
    });
  });

  describe('GET /v1/payments/{id}', () => {
    it('returns the tenant’s own payment as the list shows it', async () => {
      const got = await app.http.get(`/v1/payments/${a.deposit}`).auth(a.token, { type: 'bearer' }).expect(200);
      expect(got.body).toMatchObject({ object: 'payment', id: a.deposit, enterprise_id: a.id, kind: 'deposit' });
      const listed = await app.http.get('/v1/payments').auth(a.token, { type: 'bearer' }).expect(200);
      expect((listed.body as Listed).data).toContainEqual(got.body);
    });

    it("answers another tenant's payment, and a malformed id, with 404", async () => {
      for (const id of [b.deposit, 'pay_nope']) {
        const refused = await app.http.get(`/v1/payments/${id}`).auth(a.token, { type: 'bearer' }).expect(404);
        expect(refused.body).toMatchObject({ code: 'resource_not_found' });
      }
    });

    it("lets the operator get any enterprise's payment at /v1/admin/payments/{id}", async () => {
      const operator = await app.operatorToken();
      const got = await app.http.get(`/v1/admin/payments/${b.deposit}`).auth(operator, { type: 'bearer' }).expect(200);
      expect(got.body).toMatchObject({ id: b.deposit, enterprise_id: b.id });
      await app.http.get(`/v1/admin/payments/${a.deposit}`).auth(a.token, { type: 'bearer' }).expect(403);
    });
  });
});
