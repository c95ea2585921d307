import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, type PrivateKey } from 'openpgp';
import { startTestApp, type TestApp } from './support/app';
import {
  builtExport,
  downloadedExport,
  issuedOrderWithInvoiceProfile,
  renderedInvoicePdf,
  type StoredFilesWorld,
} from './support/stored-files';
import { startTestS3, type TestS3 } from './support/s3-server';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';
import { waitFor, type PollOptions } from './support/wait';
import { startWorkerProcess, workerEnv, type WorkerProcess } from './support/worker-process';

const POLL: PollOptions = { timeoutMs: 90_000, intervalMs: 200 };

/**
 * The production topology with S3 configured: the real worker (src/worker.ts) in a child process builds the export
 * and renders the invoice; an API process with its own DATA_DIR serves them. The two share only the database and
 * the bucket (an S3-compatible server started here), and the content is in the bucket, not in stored_file_chunks.
 * A database of its own, so that no other file's in-process worker (without S3) runs these jobs.
 */
describe('files every process sees, with their content in an S3-compatible bucket', () => {
  let s3: TestS3;
  let database: ScratchDatabase;
  let api: TestApp;
  let worker: WorkerProcess;
  let privateKey: PrivateKey;
  let world: StoredFilesWorld;
  const prefix = `e2e-${randomBytes(4).toString('hex')}/`;

  const rowOf = async (key: string) =>
    (
      await api.dataSource.query<Array<{ object_key: string | null; chunks: number }>>(
        `SELECT object_key, (SELECT count(*)::int FROM stored_file_chunks c WHERE c.file_id = f.id) AS chunks
           FROM stored_files f WHERE key = $1 AND status = 'complete'`,
        [key],
      )
    )[0];

  beforeAll(async () => {
    s3 = await startTestS3();
    database = await createScratchDatabase('s3_storage');
    const keys = {
      DATABASE_URL: database.url,
      DATA_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      CODE_PEPPER: randomBytes(32).toString('base64'),
    };
    api = await startTestApp({ ...keys, ...s3.env(prefix) }, { worker: false });
    worker = startWorkerProcess(
      workerEnv(api.runtime.config, {
        ...s3.env(prefix),
        DATA_DIR: mkdtempSync(join(tmpdir(), 'fuli-s3-worker-')),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      }),
    );

    const pair = await generateKey({ userIDs: [{ name: 'ERP', email: 'erp@example.com' }], format: 'object' });
    privateKey = pair.privateKey;
    world = await issuedOrderWithInvoiceProfile(api, {
      title: `对象存储测试企业${randomInt(1e6)}有限公司`,
      address: '上海市黄浦区测试路9号',
      poPrefix: 'S3',
      issuedWithinMs: 90_000,
    });
  }, 180_000);

  afterAll(async () => {
    await worker?.stop();
    await api?.close();
    await database?.drop();
    await s3?.close();
  });

  it('an export built by the worker process downloads from the API, its content read from the bucket', async () => {
    const ready = await builtExport(api, world, privateKey, POLL);
    expect(ready.status).toBe('ready');

    // The worker put the content in the bucket; PostgreSQL holds the metadata row and no chunk.
    const key = `exports/${ready.id}.pgp`;
    const row = await rowOf(key);
    expect(row.chunks).toBe(0);
    expect(row.object_key).toMatch(new RegExp(`^${prefix}${key}/fil_`));
    expect(await s3.objectKeys(`${prefix}exports/`)).toEqual([row.object_key]);

    const file = await downloadedExport(api, world, ready, privateKey);
    expect((file.body as Buffer).length).toBe(ready.manifest.size_bytes);

    // Downloaded once, the export is removed: its row and its object.
    await waitFor(
      async () => ({ row: await rowOf(key), objects: await s3.objectKeys(`${prefix}exports/`) }),
      (state) => state.row === undefined && state.objects.length === 0,
      POLL,
    );
  });

  it('an invoice PDF rendered by the worker process downloads from the API with its digest', async () => {
    const { invoiceId } = await renderedInvoicePdf(api, world, POLL);
    const objects = await s3.objectKeys(`${prefix}invoices/`);
    expect(objects.some((key) => key.includes(`/${invoiceId}.pdf/`))).toBe(true);
    const [{ chunks }] = await api.dataSource.query<Array<{ chunks: number }>>(
      'SELECT count(*)::int AS chunks FROM stored_file_chunks',
    );
    expect(chunks).toBe(0);
  });
});
