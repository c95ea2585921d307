import { randomInt } from 'node:crypto';
import type { TestApp } from './app';
import { waitForIssued } from './cards';
import { createClient, createEnterprise, createProduct, newCreditCode, recordTransfer } from './fixtures';

/** What the file-store suites work with: an enterprise's client and its issued, invoiceable order. */
export interface StoredFilesWorld {
  enterpriseId: string;
  token: string;
  orderId: string;
}

/**
 * An enterprise with prepaid funds, a client that may order, approve, export codes and read invoices, an invoice
 * profile (one invoice per order), and an order of 3 cards paid from the balance and issued by a worker: the
 * export file and the invoice PDF the file-store suites read back through another process.
 */
export async function issuedOrderWithInvoiceProfile(
  api: TestApp,
  options: { title: string; address: string; poPrefix: string; issuedWithinMs?: number },
): Promise<StoredFilesWorld> {
  const operator = await api.operatorToken();
  const creditCode = newCreditCode();
  const enterprise = await createEnterprise(api, { name: options.title, credit_code: creditCode });
  await recordTransfer(api, operator, {
    enterprise_id: enterprise.id,
    payer_account_name: enterprise.name,
    amount: 1_000_000,
  }).expect(201);
  const client = await createClient(api, {
    enterprise_id: enterprise.id,
    scopes: ['orders:write', 'orders:read', 'orders:approve', 'cards:secrets', 'invoices:read', 'invoices:write'],
  });
  const token = await api.tokenFor(client.id, client.client_secret);
  await api.http
    .put('/v1/invoice-profile')
    .auth(token, { type: 'bearer' })
    .send({ title: options.title, taxpayer_id: creditCode, address: options.address, emails: [], mode: 'per_order' })
    .expect(200);
  const product = await createProduct(api);
  const placed = await api.http
    .post('/v1/orders')
    .auth(token, { type: 'bearer' })
    .send({
      po_number: `${options.poPrefix}-${randomInt(1e9)}`,
      payment_method: 'prepaid_balance',
      lines: [{ product_id: product.id, face_value: 10_000, quantity: 3 }],
    })
    .expect(201);
  const orderId = (placed.body as { id: string }).id;
  await api.http.post(`/v1/orders/${orderId}/pay`).auth(token, { type: 'bearer' }).expect(200);
  await waitForIssued(api, orderId, options.issuedWithinMs);
  return { enterpriseId: enterprise.id, token, orderId };
}
