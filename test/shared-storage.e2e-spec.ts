import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { generateKey, type PrivateKey } from 'openpgp';
import { startTestApp, type TestApp } from './support/app';
import {
  builtExport,
  downloadedExport,
  issuedOrderWithInvoiceProfile,
  renderedInvoicePdf,
  type StoredFilesWorld,
} from './support/stored-files';
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
  let world: StoredFilesWorld;

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
    world = await issuedOrderWithInvoiceProfile(api, {
      title: `存储测试企业${randomInt(1e6)}有限公司`,
      address: '上海市黄浦区测试路8号',
      poPrefix: 'STORE',
    });
  });
  afterAll(async () => {
    await api?.close();
    await worker?.close();
  });

  it('an export built by the worker downloads from an API with its own DATA_DIR', async () => {
    const ready = await builtExport(api, world, privateKey, POLL);
    expect(ready.status).toBe('ready');
    const file = await downloadedExport(api, world, ready, privateKey);
    expect(Number(file.headers['content-length'])).toBe(ready.manifest.size_bytes);

    // Neither process wrote the file to its disk; once downloaded it is gone from the store too.
    expect(filesUnder(worker.runtime.config.dataDir, 'exports')).toEqual([]);
    expect(filesUnder(api.runtime.config.dataDir, 'exports')).toEqual([]);
    await waitFor(
      () => api.dataSource.query<unknown[]>('SELECT 1 FROM stored_files WHERE key = $1', [`exports/${ready.id}.pgp`]),
      (rows) => rows.length === 0,
      POLL,
    );
    expect(
      (await api.http.get(`/v1/exports/${ready.id}/download`).set('X-Download-Token', ready.download.token).expect(410))
        .body.code,
    ).toBe('export_link_used');
  });

  it('an invoice PDF rendered by the worker downloads from the API with its digest', async () => {
    const { pdf, digest } = await renderedInvoicePdf(api, world, POLL);
    expect(pdf.headers['x-content-sha256']).toBe(digest);
    expect(filesUnder(worker.runtime.config.dataDir, 'invoices')).toEqual([]);
    expect(filesUnder(api.runtime.config.dataDir, 'invoices')).toEqual([]);
  });
});
