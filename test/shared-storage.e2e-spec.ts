import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { decrypt, generateKey, readMessage, type PrivateKey } from 'openpgp';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets } from './support/cards';
import { confirmedExportKey } from './support/export-keys';
import { createClient } from './support/fixtures';
import { binaryBody } from './support/http-body';
import { issuedOrderWithInvoiceProfile } from './support/stored-files';
import { waitFor, type PollOptions } from './support/wait';

const POLL: PollOptions = { timeoutMs: 60_000 };

/** What a process left in its DATA_DIR besides nothing: export and invoice files must not be there. */
const filesUnder = (dataDir: string, folder: string) =>
  existsSync(`${dataDir}/${folder}`) ? readdirSync(`${dataDir}/${folder}`, { recursive: true }) : [];

/**
 * The production topology's file problem: an API process that shares nothing with the worker but the database (its
 * own DATA_DIR, no queue processors) serves the export file and the invoice PDF the worker wrote.
 */
describe('files every process sees', () => {
  let worker: TestApp;
  let api: TestApp;
  let privateKey: PrivateKey;
  let token: string;
  let orderId: string;
  let enterpriseId: string;

  beforeAll(async () => {
    // Keys are configuration every process is given alike (as in production); files are not.
    const keys = {
      DATA_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      CODE_PEPPER: randomBytes(32).toString('base64'),
    };
    worker = await startTestApp(keys);
    api = await startTestApp(keys, { worker: false });
    expect(api.runtime.config.dataDir).not.toBe(worker.runtime.config.dataDir);

    const pair = await generateKey({ userIDs: [{ name: 'ERP', email: 'erp@example.com' }], format: 'object' });
    privateKey = pair.privateKey;
    ({ enterpriseId, token, orderId } = await issuedOrderWithInvoiceProfile(api, {
      title: `存储测试企业${randomInt(1e6)}有限公司`,
      address: '上海市黄浦区测试路8号',
      poPrefix: 'STORE',
    }));
  });
  afterAll(async () => {
    await api?.close();
    await worker?.close();
  });

  it('an export built by the worker downloads from an API with its own DATA_DIR', async () => {
    const approver = await createClient(api, {
      enterprise_id: enterpriseId,
      scopes: ['orders:approve'],
    });
    const approverToken = await api.tokenFor(approver.id, approver.client_secret);
    const keyId = await confirmedExportKey(
      api,
      { registrar: token, approver: approverToken },
      privateKey.toPublic().armor(),
    );
    const created = await api.http
      .post(`/v1/orders/${orderId}/exports`)
      .auth(token, { type: 'bearer' })
      .send({ export_key_id: keyId })
      .expect(202);
    const ready = await waitFor(
      async () => (await api.http.get(`/v1/exports/${created.body.id}`).auth(token, { type: 'bearer' })).body,
      (body) => body.status !== 'pending' && body.status !== 'running',
      POLL,
    );
    expect(ready.status).toBe('ready');

    const file = await api.http
      .get(`/v1/exports/${created.body.id}/download`)
      .set('X-Download-Token', ready.download.token)
      .buffer(true)
      .parse(binaryBody)
      .expect(200);
    const bytes = file.body as Buffer;
    expect(Number(file.headers['content-length'])).toBe(ready.manifest.size_bytes);
    const { data } = await decrypt({
      message: await readMessage({ binaryMessage: bytes }),
      decryptionKeys: privateKey,
      format: 'binary',
    });
    const csv = Buffer.from(data).toString('latin1');
    expect(createHash('sha256').update(csv, 'latin1').digest('hex')).toBe(ready.manifest.plaintext_sha256);
    const serials = (await cardsWithSecrets(api, orderId)).map((card) => card.serial);
    expect(
      csv
        .trim()
        .split('\n')
        .slice(1)
        .map((row) => row.split(',')[0]),
    ).toEqual(serials);

    // Neither process wrote the file to its disk; once downloaded it is gone from the store too.
    expect(filesUnder(worker.runtime.config.dataDir, 'exports')).toEqual([]);
    expect(filesUnder(api.runtime.config.dataDir, 'exports')).toEqual([]);
    await waitFor(
      () =>
        api.dataSource.query<unknown[]>('SELECT 1 FROM stored_files WHERE key = $1', [
          `exports/${created.body.id}.pgp`,
        ]),
      (rows) => rows.length === 0,
      POLL,
    );
    expect(
      (
        await api.http
          .get(`/v1/exports/${created.body.id}/download`)
          .set('X-Download-Token', ready.download.token)
          .expect(410)
      ).body.code,
    ).toBe('export_link_used');
  });

  it('an invoice PDF rendered by the worker downloads from the API with its digest', async () => {
    const [invoice] = (
      await api.http.get(`/v1/invoices?order_id=${orderId}`).auth(token, { type: 'bearer' }).expect(200)
    ).body.data as Array<{ id: string }>;
    const rendered = await waitFor(
      async () => (await api.http.get(`/v1/invoices/${invoice.id}`).auth(token, { type: 'bearer' })).body,
      (body) => body.documents?.status === 'rendered',
      POLL,
    );
    const pdf = await api.http
      .get(`/v1/invoices/${invoice.id}/pdf`)
      .auth(token, { type: 'bearer' })
      .buffer(true)
      .parse(binaryBody)
      .expect(200);
    const digest = createHash('sha256')
      .update(pdf.body as Buffer)
      .digest('hex');
    expect(digest).toBe(rendered.documents.pdf_sha256);
    expect(pdf.headers['x-content-sha256']).toBe(digest);
    expect((pdf.body as Buffer).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(filesUnder(worker.runtime.config.dataDir, 'invoices')).toEqual([]);
    expect(filesUnder(api.runtime.config.dataDir, 'invoices')).toEqual([]);
  });
});
