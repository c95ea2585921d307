import { pipeline, Readable } from 'node:stream';
import { crc32, createDeflateRaw } from 'node:zlib';

/** One file of a ZIP archive: its name and its content (text or a stream of bytes or text). */
export interface ZipEntry {
  name: string;
  content: string | AsyncIterable<Buffer | string>;
}

const FLAGS = 0x0808; // bit 3: sizes and CRC in a data descriptor after the data; bit 11: UTF-8 names
const DEFLATE = 8;
/** 1980-01-01 00:00 in MS-DOS date and time: an XLSX's members carry no meaningful time. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const MAX_32 = 0xffffffff;

/**
 * A ZIP archive written as its entries stream in (deflate, sizes in data descriptors), the container of an XLSX.
 * Memory: the deflate window and one chunk. No ZIP64: an entry or the archive over 4 GiB fails.
 *
 * Written here rather than through exceljs, whose per-cell objects and styles cost ~20 × a COPY of the same rows
 * (docs/decisions/0012): the statement's sheet XML comes from the database, and all this does is deflate it.
 */
export async function* zipStream(entries: Iterable<ZipEntry>, level = 6): AsyncGenerator<Buffer> {
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(FLAGS, 6);
    local.writeUInt16LE(DEFLATE, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt16LE(name.length, 26);
    yield local;
    yield name;
    const headerOffset = offset;
    offset += local.length + name.length;

    let crc = 0;
    let size = 0;
    let compressed = 0;
    const source = typeof entry.content === 'string' ? [entry.content] : entry.content;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const piece of source) {
        const bytes = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
        crc = crc32(bytes, crc);
        size += bytes.length;
        yield bytes;
      }
    }
    const deflate = createDeflateRaw({ level });
    // Errors of the source destroy the deflate stream, so the loop below throws them.
    pipeline(Readable.from(counted()), deflate, () => undefined);
    for await (const chunk of deflate as AsyncIterable<Buffer>) {
      compressed += chunk.length;
      yield chunk;
    }
    if (size > MAX_32 || compressed > MAX_32 || offset + compressed > MAX_32) {
      throw new Error(`zip entry ${entry.name} is over 4 GiB (no ZIP64)`);
    }
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc >>> 0, 4);
    descriptor.writeUInt32LE(compressed, 8);
    descriptor.writeUInt32LE(size, 12);
    yield descriptor;
    offset += compressed + descriptor.length;

    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(20, 4);
    record.writeUInt16LE(20, 6);
    record.writeUInt16LE(FLAGS, 8);
    record.writeUInt16LE(DEFLATE, 10);
    record.writeUInt16LE(DOS_TIME, 12);
    record.writeUInt16LE(DOS_DATE, 14);
    record.writeUInt32LE(crc >>> 0, 16);
    record.writeUInt32LE(compressed, 20);
    record.writeUInt32LE(size, 24);
    record.writeUInt16LE(name.length, 28);
    record.writeUInt32LE(headerOffset, 42);
    central.push(record, name);
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(central.length / 2, 8);
  end.writeUInt16LE(central.length / 2, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  yield directory;
  yield end;
}
