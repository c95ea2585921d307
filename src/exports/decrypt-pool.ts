/**
 * Where an export's envelopes are opened. With envelope format v2 (XChaCha20-Poly1305 through libsodium), opened
 * straight out of the COPY bytes (CardSecretReader: ≈ 0.9 µs per card, 0.65–0.8 µs of it the libsodium call),
 * opening is not most of an export's CPU, and by default it runs on the export job's own thread. Measured with `npm
 * run bench:export` at 1,000,000 cards on the 2-core development machine (two runs each): on the job's thread
 * 2.46–2.60 s, 2.7–3.1 s of the worker's CPU, a peak RSS of 245–250 MB; with a pool of two worker threads
 * 2.72–4.08 s, 3.7–3.9 s of CPU (messages, copies, starting a CardSecrets per thread) and 354–363 MB, over the
 * 300 MB target. On two cores the workers take their CPU from the job's thread and from Postgres (≈ 1.1 µs per card
 * during an export) rather than adding any. So the pool is opt-in (EXPORT_DECRYPT_THREADS ≥ 2), for machines with
 * cores to spare: it spreads chunks of rows over worker threads and collects the CSV back in order. Small exports
 * (and runs from TypeScript sources, e.g. Jest, where no compiled worker file exists) always open them on the
 * calling thread.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AppConfig } from '../config/app-config';
import { CardCsvConverter, ExportBuildError, type CardSecretOpener } from './export-csv';

/** CSV of one chunk of COPY lines, and how many rows it holds. */
export interface ConvertedChunk {
  csv: Buffer;
  rows: number;
}

/** Converts chunks of whole COPY lines to CSV; results come back in submission order when awaited in order. */
export interface ChunkConverter {
  /** Chunks worth having in flight at once (1: convert one at a time). */
  readonly parallelism: number;
  convert(lines: Buffer): Promise<ConvertedChunk>;
  close(): Promise<void>;
}

export interface DecryptWorkerData {
  keys: Pick<AppConfig, 'CODE_PEPPER' | 'DATA_ENCRYPTION_KEYS'>;
}

export interface DecryptRequest {
  id: number;
  lines: Uint8Array;
}

export type DecryptReply =
  | { id: number; csv: Uint8Array; rows: number }
  | { id: number; error: { code: ExportBuildError['code'] | null; message: string } };

/** Converts on the calling thread. */
export class InlineConverter implements ChunkConverter {
  readonly parallelism = 1;
  private readonly converter: CardCsvConverter;

  constructor(secrets: CardSecretOpener) {
    this.converter = new CardCsvConverter(secrets);
  }

  async convert(lines: Buffer): Promise<ConvertedChunk> {
    const before = this.converter.rowCount;
    const csv = this.converter.convert(lines);
    return { csv, rows: this.converter.rowCount - before };
  }

  async close(): Promise<void> {}
}

/**
 * Round-robins chunks over `size` worker threads. Each worker answers its messages in order, and callers await
 * the promises in submission order, so the CSV keeps the rows' order. A worker that dies fails every pending
 * and later chunk; close() terminates them all.
 */
export class WorkerDecryptPool implements ChunkConverter {
  readonly parallelism: number;
  private readonly workers: Worker[];
  private readonly pending = new Map<number, { resolve(chunk: ConvertedChunk): void; reject(error: Error): void }>();
  private nextId = 0;
  private failure: Error | null = null;
  private closing = false;

  constructor(size: number, spawn: () => Worker) {
    this.parallelism = size * 2;
    this.workers = Array.from({ length: size }, () => {
      const worker = spawn();
      worker.on('message', (reply: DecryptReply) => this.settle(reply));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`an export decryption worker exited (code ${code})`));
      });
      return worker;
    });
  }

  convert(lines: Buffer): Promise<ConvertedChunk> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<ConvertedChunk>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // A copy of exactly these bytes, transferred: `lines` may be a view into a larger buffer (a socket read, Node's
      // shared pool), whose every byte a plain postMessage would copy twice (serialise, deserialise).
      const request: DecryptRequest = { id, lines: new Uint8Array(lines) };
      this.workers[id % this.workers.length].postMessage(request, [request.lines.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.fail(new Error('the export decryption pool is closed'));
  }

  private settle(reply: DecryptReply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if ('error' in reply) {
      const { code, message } = reply.error;
      waiter.reject(code ? new ExportBuildError(code, message) : new Error(message));
    } else {
      waiter.resolve({
        csv: Buffer.from(reply.csv.buffer, reply.csv.byteOffset, reply.csv.byteLength),
        rows: reply.rows,
      });
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(this.failure);
    this.pending.clear();
  }
}

/**
 * Below this many cards an export converts on its own thread even with a pool configured. Starting the workers costs
 * ≈ 0.3 s (mostly loading CardSecrets' imports); measured on two cores with v1 (AES-GCM) envelopes, a pool lost at
 * 100,000 cards.
 */
export const PARALLEL_MIN_ROWS = 250_000;
/** More threads than this gain nothing: the main thread (COPY, SHA-256, OpenPGP) becomes the limit. */
const MAX_WORKERS = 8;
/** The compiled worker beside this file (absent when running from TypeScript sources). */
const WORKER_FILE = join(__dirname, 'card-decrypt.worker.js');

/**
 * The converter for an export of about `expectedRows` cards: a pool of `threads` workers (at most MAX_WORKERS;
 * default one per core) when the export is large, `threads` is at least 2 and the compiled worker exists; the
 * calling thread otherwise (the export job passes EXPORT_DECRYPT_THREADS, 0 by default). `spawn` overrides how
 * workers start (tests run them from sources).
 */
export function chunkConverterFor(options: {
  expectedRows: number;
  /** Opens the envelopes on the calling thread (CardSecrets.reader()); the workers make their own. */
  secrets: CardSecretOpener;
  keys: DecryptWorkerData['keys'];
  spawn?: (workerData: DecryptWorkerData) => Worker;
  threads?: number;
}): ChunkConverter {
  const threads = Math.min(options.threads ?? availableParallelism(), MAX_WORKERS);
  const spawn =
    options.spawn ??
    (existsSync(WORKER_FILE) ? (data: DecryptWorkerData) => new Worker(WORKER_FILE, { workerData: data }) : null);
  if (options.expectedRows < PARALLEL_MIN_ROWS || threads < 2 || !spawn) return new InlineConverter(options.secrets);
  const workerData: DecryptWorkerData = {
    keys: { CODE_PEPPER: options.keys.CODE_PEPPER, DATA_ENCRYPTION_KEYS: options.keys.DATA_ENCRYPTION_KEYS },
  };
  return new WorkerDecryptPool(threads, () => spawn(workerData));
}
