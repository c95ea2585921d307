import { randomInt } from 'node:crypto';
import type { Scope } from '../../src/common/access/scopes';
import { CREDIT_CODE_ALPHABET, creditCodeCheckCharacter } from '../../src/enterprises/credit-code';
import type { TestApp } from './app';

/** A fresh, valid unified social credit code (the e2e database is shared: never reuse one). */
export function newCreditCode(): string {
  let body = '91' + String(110000 + randomInt(0, 800000)).padStart(6, '0');
  for (let i = 0; i < 9; i++) body += CREDIT_CODE_ALPHABET[randomInt(0, CREDIT_CODE_ALPHABET.length)];
  return body + creditCodeCheckCharacter(body);
}

export interface EnterpriseFixture {
  id: string;
  name: string;
}

export async function createEnterprise(
  app: TestApp,
  overrides: Record<string, unknown> = {},
): Promise<EnterpriseFixture> {
  const response = await app.http
    .post('/v1/admin/enterprises')
    .auth(await app.operatorToken(), { type: 'bearer' })
    .send({ name: `Test Co ${randomInt(1e9)}`, credit_code: newCreditCode(), ...overrides });
  if (response.status !== 201)
    throw new Error(`create enterprise: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as EnterpriseFixture;
}

export interface ClientFixture {
  id: string;
  client_secret: string;
  enterprise_id: string | null;
  scopes: Scope[];
}

export async function createClient(
  app: TestApp,
  body: { enterprise_id?: string; scopes: Scope[]; ip_allowlist?: string[]; name?: string; claim_bind_url?: string },
): Promise<ClientFixture> {
  const response = await app.http
    .post('/v1/admin/api-clients')
    .auth(await app.operatorToken(), { type: 'bearer' })
    .send({ name: 'test client', ...body });
  if (response.status !== 201) throw new Error(`create client: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as ClientFixture;
}

/** An enterprise with a client holding `scopes`, and that client's token. */
export async function enterpriseWithClient(app: TestApp, scopes: Scope[]) {
  const enterprise = await createEnterprise(app);
  const client = await createClient(app, { enterprise_id: enterprise.id, scopes });
  const token = await app.tokenFor(client.id, client.client_secret);
  return { enterprise, client, token };
}

/** A redemption channel: an API client that may verify, bind and spend cards, and its token. */
export async function redemptionChannel(app: TestApp, name: string): Promise<{ id: string; token: string }> {
  const client = await createClient(app, { scopes: ['redemptions:write'], name });
  return { id: client.id, token: await app.tokenFor(client.id, client.client_secret) };
}

export interface ProductFixture {
  id: string;
  card_type: 'anonymous' | 'registered';
  face_values: number[];
  designs: string[];
}

/** An active product (default: anonymous, 100/500/1,000 CNY, 36 months, greetings allowed). */
export async function createProduct(app: TestApp, overrides: Record<string, unknown> = {}): Promise<ProductFixture> {
  const response = await app.http
    .post('/v1/admin/products')
    .auth(await app.operatorToken(), { type: 'bearer' })
    .send({
      name: `Welfare card ${randomInt(1e9)}`,
      card_type: 'anonymous',
      face_values: [10_000, 50_000, 100_000],
      validity_months: 36,
      designs: ['classic', 'spring'],
      greeting_allowed: true,
      ...overrides,
    });
  if (response.status !== 201) throw new Error(`create product: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as ProductFixture;
}

/** Records a bank transfer as the operator would, from the enterprise's own account (a supertest request). */
export function recordTransfer(
  app: TestApp,
  operatorToken: string,
  body: {
    enterprise_id: string;
    payer_account_name: string;
    amount: number;
    kind?: string;
    order_id?: string;
    bank_reference?: string;
  },
) {
  return app.http
    .post('/v1/admin/payments')
    .auth(operatorToken, { type: 'bearer' })
    .send({
      kind: 'deposit',
      payer_account_number: '6222 0000 1111 2345',
      bank_reference: `REF${Date.now()}${randomInt(1e9)}`,
      ...body,
    });
}

/** A purchaser identity with a valid resident ID (GB 11643's own example), for real-name orders. */
export const TEST_PURCHASER = {
  name: '张三',
  id_type: 'resident_id' as const,
  id_number: '11010519491231002X',
  phone: '13812345678',
};

/**
 * A fresh enterprise's client places a bank_transfer order of `lines` and the
 * operator books a transfer covering it: the order is paid, and minting starts.
 */
export async function placePaidOrder(
  app: TestApp,
  poNumber: string,
  lines: Array<{ product_id: string; face_value: number; quantity: number }>,
  scopes: Scope[] = ['orders:write', 'orders:read'],
) {
  const enterprise = await createEnterprise(app);
  const client = await createClient(app, { enterprise_id: enterprise.id, scopes });
  const token = await app.tokenFor(client.id, client.client_secret);
  const placed = await app.http
    .post('/v1/orders')
    .auth(token, { type: 'bearer' })
    .send({ po_number: poNumber, payment_method: 'bank_transfer', purchaser: TEST_PURCHASER, lines });
  if (placed.status !== 201) throw new Error(`place order: ${placed.status} ${JSON.stringify(placed.body)}`);
  const order = placed.body as { id: string; payable: number };
  await recordTransfer(app, await app.operatorToken(), {
    enterprise_id: enterprise.id,
    payer_account_name: enterprise.name,
    amount: order.payable,
    kind: 'order_transfer',
    order_id: order.id,
  }).expect(201);
  return { enterprise, token, order };
}
