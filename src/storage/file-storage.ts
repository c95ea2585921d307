import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { OnJob } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { S3ContentStore } from './s3-content-store';
import { StorageRepository, type RetiredObject, type StoredFileRow } from './storage.repository';

/**
 * Bytes per chunk row. Large enough that a 70 MB export is ~70 statements, small enough that a write keeps two
 * chunks in memory (one filling, one being inserted) and a read four.
 */
export const CHUNK_BYTES = 1024 * 1024;
/** Chunks one read statement fetches: a download holds at most this many in memory. */
const READ_AHEAD_CHUNKS = 4;
/** A version still `writing` this long after it began lost its writer: the purge deletes it. */
const ABANDONED_AFTER_MS = 24 * 3_600_000;
const PURGE_BATCH = 500;
const PURGE_SCHEDULER = 'purge-stored-files';
/** Keys are relative paths: letters, digits, `._-` in segments separated by `/`, never `..`. */
const KEY_PATTERN = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/** What is known of a stored file without reading it. */
export interface StoredFileInfo {
  key: string;
  sizeBytes: number;
  /** SHA-256 of the content, lower-case hex. */
  sha256: string;
  createdAt: Date;
  expiresAt: Date | null;
}

export interface WriteOptions {
  /** When the purge may delete the file; absent or null: kept until `remove`. */
  expiresAt?: Date | null;
}

const infoOf = (row: StoredFileRow): StoredFileInfo => ({
  key: row.key,
  sizeBytes: row.sizeBytes,
  sha256: row.sha256,
  createdAt: row.createdAt,
  expiresAt: row.expiresAt,
});

/**
 * Files every process sees, whatever its disk: exports, invoice documents, and any other file the API hands out.
 * Kept in PostgreSQL (stored_files, stored_file_chunks: 1 MiB `bytea` chunks, docs/decisions/0006-files-in-postgres.md),
 * so nothing but the database is shared between API and worker processes. With S3_BUCKET set, the content of new
 * versions goes to that bucket instead (S3ContentStore, docs/decisions/0013-file-content-in-s3.md) while their metadata
 * rows stay here; versions written before keep their chunks, read as before.
 *
 * - `write(key, content, { expiresAt })` streams `content` in (memory: two chunks, or three S3 parts), computing size and SHA-256; the
 *   file appears under `key` only once complete, replacing the previous one atomically. Same key twice: the last
 *   completed write wins.
 * - `read(key)` answers the file's info and a stream of its bytes (memory: four chunks), or null; `stat(key)` the
 *   info alone; `readAll(key)` the bytes in one Buffer, for small files only (an invoice PDF to attach).
 * - `remove(key)` deletes it. Files past `expiresAt` read as absent and are deleted by the hourly purge job.
 *
 * Keys are relative paths (`exports/exp_01….pgp`, `invoices/2026/inv_01….pdf`). A file written under DATA_DIR by an
 * earlier version (same relative path) is imported the first time a process that has it reads or stats its key.
 */
@Injectable()
export class FileStorage implements OnApplicationBootstrap {
  private readonly logger = new Logger(FileStorage.name);

  constructor(
    private readonly files: StorageRepository,
    private readonly transactions: TransactionService,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
    private readonly objects: S3ContentStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.queues.isWorker) return;
    await this.queues.upsertScheduler(PURGE_SCHEDULER, JobName.PurgeStoredFiles, {}, { everyMs: 3_600_000 });
  }

  /** Streams `content` into the store under `key`; resolves once it is complete and visible to every process. */
  async write(
    key: string,
    content: AsyncIterable<Uint8Array> | Uint8Array,
    options: WriteOptions = {},
  ): Promise<StoredFileInfo> {
    assertKey(key);
    const ctx = RequestContext.system();
    const id = newId('storedFile');
    const objectKey = this.objects.enabled ? this.objects.objectKeyOf(key, id) : null;
    await this.files.begin(ctx, id, key, options.expiresAt ?? null, objectKey);
    const hash = createHash('sha256');
    let size = 0;
    async function* measured(): AsyncGenerator<Buffer> {
      for await (const piece of content instanceof Uint8Array ? [content] : content) {
        const bytes = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        hash.update(bytes);
        size += bytes.length;
        yield bytes;
      }
    }
    try {
      if (objectKey) await this.objects.put(objectKey, measured());
      else await this.writeChunks(ctx, id, measured());
      const sha256 = hash.digest('hex');
      const replaced = await this.transactions.run(ctx, async () => {
        const { completed, replaced: previous } = await this.files.complete(ctx, id, key, size, sha256);
        // Thrown inside: the previous version stays the file rather than leave the key with none.
        if (!completed) throw new Error(`stored file ${key}: the version being written was purged`);
        return previous;
      });
      await this.deleteObjects(replaced).catch((err: unknown) =>
        this.logger.warn({ msg: 'could not delete a replaced version (the purge will)', key, err }),
      );
      this.purgeSoon();
      return { key, sizeBytes: size, sha256, createdAt: new Date(), expiresAt: options.expiresAt ?? null };
    } catch (error) {
      await this.files
        .removeVersion(ctx, id)
        .then(async (objects) => {
          await this.deleteObjects(objects);
          // The purge may have taken the row already (a write stalled for a day) while the upload still went on.
          if (objectKey && objects.length === 0) await this.objects.delete([objectKey]);
        })
        .catch((err: unknown) => this.logger.warn({ msg: 'could not delete a failed write', key, err }));
      throw error;
    }
  }

  /** The content as 1 MiB chunk rows: one insert in flight while the next chunk fills. */
  private async writeChunks(ctx: RequestContext, id: string, content: AsyncIterable<Buffer>): Promise<void> {
    let seq = 0;
    // One insert in flight while the next chunk fills: the producer (e.g. OpenPGP encryption) never waits on both.
    let inFlight: Promise<void> = Promise.resolve();
    const flush = async (chunk: Buffer) => {
      await inFlight;
      const insert = this.files.appendChunk(ctx, id, seq++, chunk);
      insert.catch(() => undefined); // awaited before the next insert or at the end
      inFlight = insert;
    };
    try {
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      for await (const bytes of content) {
        let offset = 0;
        while (offset < bytes.length) {
          const take = Math.min(CHUNK_BYTES - pendingBytes, bytes.length - offset);
          pending.push(bytes.subarray(offset, offset + take));
          pendingBytes += take;
          offset += take;
          if (pendingBytes === CHUNK_BYTES) {
            await flush(Buffer.concat(pending, pendingBytes));
            pending = [];
            pendingBytes = 0;
          }
        }
      }
      if (pendingBytes > 0 || seq === 0) await flush(Buffer.concat(pending, pendingBytes));
      await inFlight;
    } finally {
      await inFlight.catch(() => undefined);
    }
  }

  /** Deletes the S3 objects of retired versions, then their rows. */
  private async deleteObjects(retired: RetiredObject[]): Promise<void> {
    if (retired.length === 0) return;
    await this.objects.delete(retired.map((object) => object.objectKey));
    await this.files.forget(
      RequestContext.system(),
      retired.map((object) => object.id),
    );
  }

  /** The file's info, or null when there is none (or it expired). */
  async stat(key: string): Promise<StoredFileInfo | null> {
    const row = await this.find(key);
    return row ? infoOf(row) : null;
  }

  /**
   * The file's info and a stream of its bytes, or null. The stream fails (rather than ends short) when the file is
   * removed while it is read.
   */
  async read(key: string): Promise<{ info: StoredFileInfo; stream: Readable } | null> {
    const row = await this.find(key);
    if (!row) return null;
    const content = row.objectKey ? this.objects.get(row.objectKey, row.sizeBytes) : this.chunksOf(row);
    return { info: infoOf(row), stream: Readable.from(content, { objectMode: false }) };
  }

  /** The whole file in memory: for small files only (an invoice document); null when there is none. */
  async readAll(key: string): Promise<Buffer | null> {
    const file = await this.read(key);
    if (!file) return null;
    const parts: Buffer[] = [];
    for await (const part of file.stream) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }

  /** Deletes the file (and a file of an earlier version under DATA_DIR); whether one was stored. */
  async remove(key: string): Promise<boolean> {
    assertKey(key);
    const { existed, objects } = await this.files.removeKey(RequestContext.system(), key);
    await this.deleteObjects(objects);
    await rm(this.legacyPath(key), { force: true });
    return existed;
  }

  /** Deletes expired files and abandoned writes (with their S3 objects), a batch per statement; how many. */
  @OnJob(JobName.PurgeStoredFiles)
  async purgeExpired(): Promise<{ purged: number }> {
    let purged = 0;
    for (;;) {
      const { count, objects } = await this.files.purge(
        RequestContext.system(),
        new Date(Date.now() - ABANDONED_AFTER_MS),
        PURGE_BATCH,
      );
      await this.deleteObjects(objects);
      purged += count;
      if (count < PURGE_BATCH) break;
    }
    if (purged > 0) this.logger.log({ msg: 'purged stored files', purged });
    return { purged };
  }

  private purging = false;
  private lastPurge = 0;

  /** Writes also purge now and then (at most every 10 minutes per process), so expiry holds without a worker too. */
  private purgeSoon(): void {
    if (this.purging || Date.now() - this.lastPurge < 600_000) return;
    this.purging = true;
    this.lastPurge = Date.now();
    this.purgeExpired()
      .catch((err: unknown) => this.logger.warn({ msg: 'stored file purge failed', err }))
      .finally(() => (this.purging = false));
  }

  private async *chunksOf(row: StoredFileRow): AsyncGenerator<Buffer> {
    let next = 0;
    let read = 0;
    for (;;) {
      const chunks = await this.files.chunks(row.id, next, READ_AHEAD_CHUNKS);
      for (const chunk of chunks) {
        if (chunk.seq !== next) throw new Error(`stored file ${row.key}: chunk ${next} is missing`);
        next++;
        read += chunk.data.length;
        yield chunk.data;
      }
      if (chunks.length < READ_AHEAD_CHUNKS) break;
    }
    if (read !== row.sizeBytes) throw new Error(`stored file ${row.key} was removed while it was read`);
  }

  /** The stored row of `key`, importing a file an earlier version left under DATA_DIR. */
  private async find(key: string): Promise<StoredFileRow | null> {
    assertKey(key);
    const ctx = RequestContext.system();
    const row = await this.files.find(ctx, key);
    if (row) return row;
    const legacy = this.legacyPath(key);
    const onDisk = await stat(legacy).catch(() => null);
    if (!onDisk?.isFile()) return null;
    await this.write(key, createReadStream(legacy));
    this.logger.log({ msg: 'imported a file from DATA_DIR into the file store', key });
    return this.files.find(ctx, key);
  }

  private legacyPath(key: string): string {
    const root = resolve(this.config.dataDir);
    const path = resolve(root, key);
    if (!path.startsWith(root + sep)) throw new Error(`stored file key outside DATA_DIR: ${key}`);
    return path;
  }
}

/** Refuses keys that are not plain relative paths (a key is also the path of an earlier version's file). */
function assertKey(key: string): void {
  if (key.length > 512 || isAbsolute(key) || !KEY_PATTERN.test(key)) throw new Error(`invalid stored file key: ${key}`);
}
