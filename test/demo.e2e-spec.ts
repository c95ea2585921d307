import { randomBytes } from 'node:crypto';
import { Product } from '../src/catalog/product.entity';
import { DEMO_PRODUCTS, DemoSeedService } from '../src/demo/demo-seed.service';
import { ApiClient } from '../src/auth/api-client.entity';
import { createFuliClient, type FuliClient } from '../sdk';
import { startTestApp, TEST_ADMIN_CLIENT_ID, TEST_ADMIN_CLIENT_SECRET, type TestApp } from './support/app';
import { TEST_PURCHASER } from './support/fixtures';
import { ok } from './support/sdk-results';

/** The demo tenant `npm start` seeds, walked through as the README's HR walk-through does, with the SDK. */
describe('demo tenant (npm start)', () => {
  let app: TestApp;
  let seeder: DemoSeedService;

  beforeAll(async () => {
    app = await startTestApp();
    seeder = app.app.get(DemoSeedService);
  });
  afterAll(async () => {
    await app.close();
  });

  it('seeds once: a second start keeps the same clients and adds no products', async () => {
    const first = await seeder.seed();
    const clientsBefore = await app.dataSource.manager.countBy(ApiClient, { enterpriseId: first.enterprise_id });
    const second = await seeder.seed();
    expect(second).toEqual(first);
    expect(first.hr.client_id).not.toBe(first.finance.client_id);
    expect(await app.dataSource.manager.countBy(ApiClient, { enterpriseId: first.enterprise_id })).toBe(clientsBefore);
    for (const { name } of DEMO_PRODUCTS) expect(await app.dataSource.manager.countBy(Product, { name })).toBe(1);
  });

  it('lets a newcomer follow the HR walk-through: products → order → approval → payment → balance', async () => {
    const demo = await seeder.seed();
    const as = (credentials: { client_id: string; client_secret: string }): FuliClient =>
      createFuliClient({ baseUrl: app.url, clientId: credentials.client_id, clientSecret: credentials.client_secret });
    const hr = as(demo.hr);
    const finance = as(demo.finance);
    const operator = as({ client_id: TEST_ADMIN_CLIENT_ID, client_secret: TEST_ADMIN_CLIENT_SECRET });

    // 1. The catalog at the enterprise's price (2 % off).
    const products = ok(await hr.GET('/v1/products', { params: { query: { limit: 100 } } })).data;
    const anonymous = products.find((product) => product.name === DEMO_PRODUCTS[0].name);
    expect(anonymous?.prices).toContainEqual({ face_value: 50_000, price: 49_000 });

    // 2. The operator records the enterprise's deposit (a bank transfer it received).
    ok(
      await operator.POST('/v1/admin/payments', {
        body: {
          enterprise_id: demo.enterprise_id,
          kind: 'deposit',
          amount: 10_000_000,
          payer_account_name: '示例科技有限公司',
          payer_account_number: '6222 0000 1111 2222',
          bank_reference: `DEMO-${randomBytes(6).toString('hex')}`,
        },
      }),
    );
    const before = ok(await hr.GET('/v1/balance'));

    // 3. 200 cards of 500 CNY: above the demo's 50,000 CNY approval threshold.
    const order = ok(
      await hr.POST('/v1/orders', {
        params: { header: { 'Idempotency-Key': `demo-${randomBytes(6).toString('hex')}` } },
        body: {
          po_number: `PO-DEMO-${randomBytes(4).toString('hex')}`,
          payment_method: 'prepaid_balance',
          lines: [{ product_id: anonymous!.id, face_value: 50_000, quantity: 200, greeting: '新年快乐' }],
          purchaser: TEST_PURCHASER,
        },
      }),
    );
    expect(order).toMatchObject({ status: 'pending_approval', face_total: 10_000_000, payable: 9_800_000 });

    // 4. The HR client may not approve its own order; finance approves and pays.
    const refused = await hr.POST('/v1/orders/{id}/approve', { params: { path: { id: order.id } } });
    expect(refused.response.status).toBe(403);
    ok(await finance.POST('/v1/orders/{id}/approve', { params: { path: { id: order.id } } }));
    const paid = ok(await finance.POST('/v1/orders/{id}/pay', { params: { path: { id: order.id } } }));
    expect(paid.status).toBe('paid');

    // 5. What is left.
    const after = ok(await hr.GET('/v1/balance'));
    expect(after.prepaid_balance).toBe(before.prepaid_balance - 9_800_000);
    expect(after).toMatchObject({ credit_limit: 10_000_000, credit_used: 0 });
  });
});
