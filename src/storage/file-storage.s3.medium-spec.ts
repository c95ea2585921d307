import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { startTestS3, type TestS3 } from '../../test/support/s3-server';
import { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { loadConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import type { QueueService } from '../queue/queue.service';
import { FileStorage, type StoredFileInfo } from './file-storage';
import { S3_PART_BYTES } from './s3-client';
import { S3ContentStore } from './s3-content-store';
import { StorageRepository } from './storage.repository';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** `bytes` as a producer would hand them over: 64 KiB pieces, optionally failing after `failAfter` bytes. */
async function* pieces(bytes: Buffer, failAfter = Infinity): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += 65_536) {
    if (offset >= failAfter) throw new Error('the producer failed');
    yield bytes.subarray(offset, offset + 65_536);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * FileStorage with S3 settings against a real S3-compatible server (s3rver, in this process) and the real test
 * database: content goes to the bucket, metadata to stored_files, and callers see what they saw with PostgreSQL.
 */
describe('FileStorage with content in an S3-compatible bucket', () => {
  let db: MediumDatabase;
  let s3: TestS3;
  let storage: FileStorage;
  let databaseOnly: FileStorage;
  let prefix: string;
  const stores: S3ContentStore[] = [];

  const storageWith = (env: Record<string, string>) => {
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: mkdtempSync(join(tmpdir(), 'fuli-s3-medium-')), ...env });
    const objects = new S3ContentStore(config);
    stores.push(objects);
    const queues = { isWorker: false } as QueueService;
    return new FileStorage(
      new StorageRepository(db.connection),
      new TransactionService(db.dataSource),
      queues,
      config,
      objects,
    );
  };
  const rowsOf = (key: string) =>
    db.dataSource.query<Array<{ id: string; status: string; object_key: string | null; chunks: number }>>(
      `SELECT id, status, object_key, (SELECT count(*)::int FROM stored_file_chunks c WHERE c.file_id = f.id) AS chunks
         FROM stored_files f WHERE key = $1 ORDER BY created_at`,
      [key],
    );
  const testKey = (name: string) => `s3-medium/${newId('storedFile')}/${name}`;

  beforeAll(async () => {
    db = await openMediumDatabase();
    s3 = await startTestS3();
    // A prefix per run: the bucket's listing below sees this run's objects only.
    prefix = `run-${randomBytes(4).toString('hex')}/`;
    storage = storageWith(s3.env(prefix));
    databaseOnly = storageWith({});
  });
  afterAll(async () => {
    for (const store of stores) store.onApplicationShutdown();
    await s3?.close();
    await db?.close();
  });

  it('stores a small file as one object and reads back the same bytes, size and SHA-256', async () => {
    const key = testKey('small.pdf');
    const bytes = Buffer.from('%PDF-1.7 a small invoice');
    s3.takeRequests();
    const written = await storage.write(key, bytes);
    expect(written).toMatchObject({ key, sizeBytes: bytes.length, sha256: sha256(bytes), expiresAt: null });
    // One PUT of the whole object, no multipart upload.
    expect(s3.takeRequests().filter((line) => line.startsWith('PUT') || line.startsWith('POST'))).toEqual([
      expect.stringMatching(new RegExp(`^PUT /${s3.bucket}/${prefix}${key}/fil_[0-9A-Z]+\\?`)),
    ]);

    const [row] = await rowsOf(key);
    expect(row).toMatchObject({ status: 'complete', object_key: `${prefix}${key}/${row.id}`, chunks: 0 });
    expect(await s3.objectKeys(`${prefix}${key}/`)).toEqual([row.object_key]);
    expect(await storage.stat(key)).toMatchObject<Partial<StoredFileInfo>>({ sizeBytes: bytes.length });
    expect(await storage.readAll(key)).toEqual(bytes);
    expect(await storage.write(testKey('empty.bin'), Buffer.alloc(0))).toMatchObject({ sizeBytes: 0 });
  });

  it('uploads a file larger than a part in parts and streams it back equal', async () => {
    const key = testKey('export.pgp');
    const bytes = randomBytes(2 * S3_PART_BYTES + 12_345);
    s3.takeRequests();
    const written = await storage.write(key, pieces(bytes), { expiresAt: new Date(Date.now() + 3_600_000) });
    expect(written.sha256).toBe(sha256(bytes));
    const uploads = s3.takeRequests();
    expect(uploads.filter((line) => /^PUT .*[?&]partNumber=/.test(line))).toHaveLength(3);
    expect(uploads.filter((line) => /^POST .*[?&]uploadId=/.test(line))).toHaveLength(1); // completed
    expect(s3.pendingUploads()).toEqual([]);

    const file = await storage.read(key);
    expect(file!.info).toMatchObject({ sizeBytes: bytes.length, sha256: sha256(bytes) });
    const parts: Buffer[] = [];
    for await (const part of file!.stream) parts.push(part as Buffer);
    const back = Buffer.concat(parts);
    expect(back.equals(bytes)).toBe(true);
    expect(sha256(back)).toBe(file!.info.sha256);
  });

  it('replaces a file atomically: readers see the old version until the new one is complete, then its object goes', async () => {
    const key = testKey('statement.csv');
    const first = Buffer.from('version 1\n');
    await storage.write(key, first);
    const [old] = await rowsOf(key);

    const second = randomBytes(S3_PART_BYTES + 1);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    async function* slow() {
      yield second.subarray(0, S3_PART_BYTES);
      await held;
      yield second.subarray(S3_PART_BYTES);
    }
    const writing = storage.write(key, slow());
    // While the new version is uploading, the old one is what every reader gets.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await storage.readAll(key)).toEqual(first);
    expect((await rowsOf(key)).map((row) => row.status)).toEqual(['complete', 'writing']);
    release();
    await writing;

    // Buffer.equals: Jest's toEqual compares megabytes element by element.
    expect((await storage.readAll(key))?.equals(second)).toBe(true);
    const rows = await rowsOf(key);
    expect(rows.map((row) => row.status)).toEqual(['complete']);
    expect(rows[0].id).not.toBe(old.id);
    expect(await s3.objectKeys(`${prefix}${key}/`)).toEqual([rows[0].object_key]);
  });

  it('leaves no visible file, row or object when the content fails mid-upload', async () => {
    const key = testKey('failed.pgp');
    const kept = Buffer.from('the complete version');
    await storage.write(key, kept);
    const [keptRow] = await rowsOf(key);

    const bytes = randomBytes(2 * S3_PART_BYTES);
    await expect(storage.write(key, pieces(bytes, S3_PART_BYTES + 65_536))).rejects.toThrow('the producer failed');
    // The multipart upload was aborted: no parts left behind either.
    expect(s3.pendingUploads()).toEqual([]);
    expect(await storage.readAll(key)).toEqual(kept);
    expect(await rowsOf(key)).toEqual([keptRow]);
    expect(await s3.objectKeys(`${prefix}${key}/`)).toEqual([keptRow.object_key]);

    const fresh = testKey('never.pgp');
    await expect(storage.write(fresh, pieces(bytes, 65_536))).rejects.toThrow('the producer failed');
    expect(await storage.stat(fresh)).toBeNull();
    expect(await rowsOf(fresh)).toEqual([]);
    expect(await s3.objectKeys(`${prefix}${fresh}/`)).toEqual([]);
  });

  it('keeps the previous version, and deletes the new object, when the purge took the version being written', async () => {
    const key = testKey('stalled.pgp');
    const kept = Buffer.from('the previous version');
    await storage.write(key, kept);
    const [keptRow] = await rowsOf(key);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    async function* stalled() {
      yield Buffer.from('a new version, ');
      await held;
      yield Buffer.from('finished after the purge took it');
    }
    const writing = storage.write(key, stalled());
    await new Promise((resolve) => setTimeout(resolve, 200));
    // What the purge does to a version `writing` for a day: retire it, delete its object, forget its row.
    const writingVersion = (await rowsOf(key)).find((row) => row.status === 'writing')!;
    const repository = new StorageRepository(db.connection);
    await repository.removeVersion(RequestContext.system(), writingVersion.id);
    await repository.forget(RequestContext.system(), [writingVersion.id]);
    release();
    await expect(writing).rejects.toThrow('the version being written was purged');
    expect(await storage.readAll(key)).toEqual(kept);
    expect(await rowsOf(key)).toEqual([keptRow]);
    expect(await s3.objectKeys(`${prefix}${key}/`)).toEqual([keptRow.object_key]);
  });

  it('removes a file with its object', async () => {
    const key = testKey('remove.xml');
    await storage.write(key, Buffer.from('<invoice/>'));
    expect(await s3.objectKeys(`${prefix}${key}/`)).toHaveLength(1);
    expect(await storage.remove(key)).toBe(true);
    expect(await storage.stat(key)).toBeNull();
    expect(await storage.read(key)).toBeNull();
    expect(await rowsOf(key)).toEqual([]);
    expect(await s3.objectKeys(`${prefix}${key}/`)).toEqual([]);
    expect(await storage.remove(key)).toBe(false);
  });

  it('purges expired files and the objects of versions a stopped process left being deleted', async () => {
    const expired = testKey('expired.pgp');
    const kept = testKey('kept.pgp');
    await storage.write(expired, Buffer.from('expired'), { expiresAt: new Date(Date.now() + 500) });
    await storage.write(kept, Buffer.from('kept'), { expiresAt: new Date(Date.now() + 3_600_000) });
    // A process stopped between retiring a version and deleting its object leaves the row `deleting`.
    const stranded = testKey('stranded.pdf');
    await storage.write(stranded, Buffer.from('stranded'));
    await new StorageRepository(db.connection).removeKey(RequestContext.system(), stranded);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await storage.stat(expired)).toBeNull(); // expired reads as absent before the purge

    const { purged } = await storage.purgeExpired();
    expect(purged).toBeGreaterThanOrEqual(2);
    expect(await rowsOf(expired)).toEqual([]);
    expect(await rowsOf(stranded)).toEqual([]);
    expect(await s3.objectKeys(`${prefix}${expired}/`)).toEqual([]);
    expect(await s3.objectKeys(`${prefix}${stranded}/`)).toEqual([]);
    expect(await storage.readAll(kept)).toEqual(Buffer.from('kept'));
    await storage.remove(kept);
  });

  it('still reads, replaces and removes files whose content was stored in PostgreSQL before S3 was configured', async () => {
    const key = testKey('archived.pdf');
    const before = Buffer.from('an invoice archived in the database');
    await databaseOnly.write(key, before);
    expect(await rowsOf(key)).toEqual([expect.objectContaining({ object_key: null, chunks: 1 })]);
    expect(await storage.readAll(key)).toEqual(before);

    const after = Buffer.from('re-rendered into the bucket');
    await storage.write(key, after);
    const rows = await rowsOf(key);
    expect(rows).toEqual([expect.objectContaining({ status: 'complete', chunks: 0 })]);
    expect(rows[0].object_key).toMatch(new RegExp(`^${prefix}`));
    expect(await storage.readAll(key)).toEqual(after);
    expect(await storage.remove(key)).toBe(true);
    expect(await s3.objectKeys(`${prefix}${key}/`)).toEqual([]);
  });
});
