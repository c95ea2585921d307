import { newId } from '../src/common/ids';
import { startTestApp, type TestApp } from './support/app';
import { createClient, createEnterprise } from './support/fixtures';

/**
 * Limits lowered by configuration: a product put on sale under the old limits can
 * no longer be ordered above the new single-card limit. (Its own app: passport
 * strategies are process-global, so one test file runs one app at a time.)
 */
describe('single-card limits from configuration', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ ANONYMOUS_CARD_MAX_FEN: '50000' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('refuses an anonymous card above the configured limit with 422 card_limit_exceeded', async () => {
    const productId = newId('product');
    // On sale since before the limit was lowered (the API would refuse to create it now).
    await app.dataSource.query(
      `INSERT INTO products (id, name, card_type, face_values, validity_months, designs, greeting_allowed, active)
       VALUES ($1, 'Old 1,000 CNY card', 'anonymous', '{50000,100000}', 36, '{classic}', false, true)`,
      [productId],
    );
    const enterprise = await createEnterprise(app);
    const hr = await createClient(app, { enterprise_id: enterprise.id, scopes: ['orders:write'] });
    const token = await app.tokenFor(hr.id, hr.client_secret);
    const order = (faceValue: number) =>
      app.http
        .post('/v1/orders')
        .auth(token, { type: 'bearer' })
        .send({
          po_number: `LIMIT-${faceValue}`,
          payment_method: 'prepaid_balance',
          lines: [{ product_id: productId, face_value: faceValue, quantity: 1 }],
        });
    const refused = await order(100_000).expect(422);
    expect(refused.body).toMatchObject({ code: 'card_limit_exceeded' });
    await order(50_000).expect(201);
    const product = await app.http
      .post('/v1/admin/products')
      .auth(await app.operatorToken(), { type: 'bearer' })
      .send({
        name: 'Too big',
        card_type: 'anonymous',
        face_values: [100_000],
        validity_months: 36,
        designs: ['classic'],
      })
      .expect(422);
    expect(product.body.code).toBe('card_limit_exceeded');
  });
});
