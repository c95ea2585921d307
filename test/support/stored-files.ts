import { createHash, randomInt } from 'node:crypto';
import { decrypt, readMessage, type PrivateKey } from 'openpgp';
import type { Response } from 'supertest';
import type { TestApp } from './app';
import { cardsWithSecrets, waitForIssued } from './cards';
import { confirmedExportKey } from './export-keys';
import { createClient, createEnterprise, createProduct, newCreditCode, recordTransfer } from './fixtures';
import { binaryBody } from './http-body';
import { waitFor, type PollOptions } from './wait';

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

/** An export as GET /v1/exports/:id shows it once built. */
export interface BuiltExport {
  id: string;
  status: string;
  download: { token: string };
  manifest: { size_bytes: number; plaintext_sha256: string };
}

/**
 * Has the order's codes exported to `privateKey`'s public key (registered by the world's client, confirmed by an
 * approver of the same enterprise) and waits until the worker has built the file or failed: the export then.
 */
export async function builtExport(
  api: TestApp,
  world: StoredFilesWorld,
  privateKey: PrivateKey,
  poll: PollOptions,
): Promise<BuiltExport> {
  const approver = await createClient(api, { enterprise_id: world.enterpriseId, scopes: ['orders:approve'] });
  const approverToken = await api.tokenFor(approver.id, approver.client_secret);
  const keyId = await confirmedExportKey(
    api,
    { registrar: world.token, approver: approverToken },
    privateKey.toPublic().armor(),
  );
  const created = await api.http
    .post(`/v1/orders/${world.orderId}/exports`)
    .auth(world.token, { type: 'bearer' })
    .send({ export_key_id: keyId })
    .expect(202);
  return waitFor(
    async () =>
      (await api.http.get(`/v1/exports/${created.body.id}`).auth(world.token, { type: 'bearer' })).body as BuiltExport,
    (body) => body.status !== 'pending' && body.status !== 'running',
    poll,
  );
}

/**
 * Downloads the export (once: the link is then used) and decrypts it with `privateKey`: the CSV is the one the
 * manifest's digest names, with a row per card of the order in serial order. Returns the download.
 */
export async function downloadedExport(
  api: TestApp,
  world: StoredFilesWorld,
  ready: BuiltExport,
  privateKey: PrivateKey,
): Promise<Response> {
  const file = await api.http
    .get(`/v1/exports/${ready.id}/download`)
    .set('X-Download-Token', ready.download.token)
    .buffer(true)
    .parse(binaryBody)
    .expect(200);
  const { data } = await decrypt({
    message: await readMessage({ binaryMessage: file.body as Buffer }),
    decryptionKeys: privateKey,
    format: 'binary',
  });
  const csv = Buffer.from(data).toString('latin1');
  expect(createHash('sha256').update(csv, 'latin1').digest('hex')).toBe(ready.manifest.plaintext_sha256);
  const serials = (await cardsWithSecrets(api, world.orderId)).map((card) => card.serial);
  expect(
    csv
      .trim()
      .split('\n')
      .slice(1)
      .map((row) => row.split(',')[0]),
  ).toEqual(serials);
  return file;
}

/**
 * The order's invoice once the worker has rendered it, and its PDF as downloaded: a PDF whose SHA-256 is the
 * digest the invoice states.
 */
export async function renderedInvoicePdf(
  api: TestApp,
  world: StoredFilesWorld,
  poll: PollOptions,
): Promise<{ invoiceId: string; pdf: Response; digest: string }> {
  const [invoice] = (
    await api.http.get(`/v1/invoices?order_id=${world.orderId}`).auth(world.token, { type: 'bearer' }).expect(200)
  ).body.data as Array<{ id: string }>;
  const rendered = await waitFor(
    async () => (await api.http.get(`/v1/invoices/${invoice.id}`).auth(world.token, { type: 'bearer' })).body,
    (body) => body.documents?.status === 'rendered',
    poll,
  );
  const pdf = await api.http
    .get(`/v1/invoices/${invoice.id}/pdf`)
    .auth(world.token, { type: 'bearer' })
    .buffer(true)
    .parse(binaryBody)
    .expect(200);
  const digest = createHash('sha256')
    .update(pdf.body as Buffer)
    .digest('hex');
  expect(digest).toBe(rendered.documents.pdf_sha256);
  expect((pdf.body as Buffer).subarray(0, 5).toString('latin1')).toBe('%PDF-');
  return { invoiceId: invoice.id, pdf, digest };
}
