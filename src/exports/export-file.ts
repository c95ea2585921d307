/**
 * Writes one export file: COPY text in, OpenPGP message out, as a stream end to end. Memory stays bounded
 * whatever the row count: the COPY stream is pulled only as fast as the store takes the file (web-stream
 * backpressure through OpenPGP.js), and at most `parallelism` chunks of ~CHUNK_BYTES are being converted.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ReadableStream } from 'node:stream/web';
import { createMessage, encrypt, enums, type PublicKey } from 'openpgp';
import type { ChunkConverter, ConvertedChunk } from './decrypt-pool';
import { EXPORT_CSV_HEADER, ExportBuildError } from './export-csv';

/**
 * COPY output is converted once this much has arrived (~2,000 rows). Per-chunk costs fall on the main thread,
 * which also receives the COPY, hashes and OpenPGP-encrypts: a string, a Buffer, two worker messages, stream hops
 * through OpenPGP.js and one file write per chunk. Measured on 2 cores, 256 KiB instead of 64 KiB halves the main
 * thread's CPU per card (≈ 3 → 1.5 µs). Small enough still that converting a chunk on the main thread (exports
 * below PARALLEL_MIN_ROWS) blocks the event loop for ≈ 20 ms only (BullMQ renews the job's lock on it).
 */
const CHUNK_BYTES = 256 * 1024;

export interface ExportFileSpec {
  /** The COPY TO STDOUT stream of the order's cards (CardsRepository.streamOrderSecrets). */
  copy: AsyncIterable<Buffer>;
  /** Opens envelopes and writes CSV lines (on this thread or a pool of workers: decrypt-pool.ts). */
  converter: ChunkConverter;
  recipient: PublicKey;
  /**
   * Takes the encrypted file as a stream and resolves with its size once it is stored complete (FileStorage.write:
   * nothing is visible before), or rejects, storing nothing, when the stream fails.
   */
  store: (encrypted: AsyncIterable<Uint8Array>) => Promise<{ sizeBytes: number }>;
  /** Name and date recorded in the OpenPGP literal data packet (what `gpg --use-embedded-filename` writes). */
  literalName: string;
  date: Date;
}

/** The manifest of a built file. */
export interface ExportFileResult {
  rowCount: number;
  /** SHA-256 of the CSV plaintext (header included), lower-case hex. */
  plaintextSha256: string;
  sizeBytes: number;
}

/**
 * Header, then the CSV of each run of whole COPY lines, in order, hashing what it yields and counting rows.
 * Up to `converter.parallelism` chunks are converted at once; the COPY stream is read no further ahead.
 */
async function* csvChunks(
  copy: AsyncIterable<Buffer>,
  converter: ChunkConverter,
  hash: ReturnType<typeof createHash>,
  counted: { rows: number },
): AsyncGenerator<Uint8Array> {
  const header = Buffer.from(EXPORT_CSV_HEADER, 'latin1');
  hash.update(header);
  yield header;
  const inFlight: Array<Promise<ConvertedChunk>> = [];
  const submit = (lines: Buffer) => {
    const converted = converter.convert(lines);
    // Awaited in order below; until then a failure must not count as unhandled.
    converted.catch(() => undefined);
    inFlight.push(converted);
  };
  const take = async (): Promise<Buffer> => {
    const { csv, rows } = await inFlight.shift()!;
    hash.update(csv);
    counted.rows += rows;
    return csv;
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of copy) {
    pending.push(piece);
    pendingBytes += piece.length;
    if (pendingBytes < CHUNK_BYTES) continue;
    const bytes = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    // Whole lines only; the tail of a line split across socket reads waits for the next chunk.
    const cut = bytes.lastIndexOf(0x0a) + 1;
    const rest = bytes.subarray(cut);
    pending = rest.length > 0 ? [rest] : [];
    pendingBytes = rest.length;
    if (cut > 0) submit(bytes.subarray(0, cut));
    while (inFlight.length >= converter.parallelism) yield await take();
  }
  if (pendingBytes > 0) {
    const bytes = Buffer.concat(pending, pendingBytes);
    if (bytes[bytes.length - 1] !== 0x0a) {
      throw new ExportBuildError('malformed_copy_row', 'the COPY output ends inside a row');
    }
    submit(bytes);
  }
  while (inFlight.length > 0) yield await take();
}

/** A pull-based web stream over an async iterator: nothing is produced before OpenPGP.js asks for it. */
function webStreamOf(iterator: AsyncIterator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

/**
 * Streams the rows as one OpenPGP message (SEIPD, uncompressed, a binary literal data packet named `literalName`)
 * to `recipient` into `spec.store`. Returns the manifest. On any error the store keeps nothing and the error is
 * rethrown.
 */
export async function writeExportFile(spec: ExportFileSpec): Promise<ExportFileResult> {
  const hash = createHash('sha256');
  const counted = { rows: 0 };
  const plaintext = webStreamOf(csvChunks(spec.copy, spec.converter, hash, counted));
  const message = await createMessage({
    binary: plaintext,
    filename: spec.literalName,
    date: spec.date,
    format: 'binary',
  });
  // A stream in gives a stream out; without the optional @openpgp/web-stream-tools types the typings cannot say so.
  const encrypted = (await encrypt({
    message,
    encryptionKeys: spec.recipient,
    format: 'binary',
    // The default, made explicit: random codes barely compress, and compressing would cost CPU on the hot path.
    config: { preferredCompressionAlgorithm: enums.compression.uncompressed },
  })) as unknown as ReadableStream<Uint8Array>;
  const { sizeBytes } = await spec.store(Readable.fromWeb(encrypted));
  return { rowCount: counted.rows, plaintextSha256: hash.digest('hex'), sizeBytes };
}
