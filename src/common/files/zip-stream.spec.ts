import { Readable } from 'node:stream';
import { crc32, inflateRawSync } from 'node:zlib';
import { zipStream } from './zip-stream';

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/** Reads an archive back through its central directory, as an unzip tool does, checking each entry's CRC. */
function unzip(archive: Buffer): Map<string, string> {
  const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = archive.readUInt16LE(end + 10);
  let at = archive.readUInt32LE(end + 16);
  const files = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    expect(archive.readUInt32LE(at)).toBe(0x02014b50);
    const crc = archive.readUInt32LE(at + 16);
    const compressed = archive.readUInt32LE(at + 20);
    const size = archive.readUInt32LE(at + 24);
    const nameLength = archive.readUInt16LE(at + 28);
    const local = archive.readUInt32LE(at + 42);
    const name = archive.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    expect(archive.readUInt32LE(local)).toBe(0x04034b50);
    const dataAt = local + 30 + archive.readUInt16LE(local + 26);
    const data = inflateRawSync(archive.subarray(dataAt, dataAt + compressed));
    expect(data.length).toBe(size);
    expect(crc32(data) >>> 0).toBe(crc);
    files.set(name, data.toString('utf8'));
    at += 46 + nameLength;
  }
  return files;
}

describe('zipStream', () => {
  it('writes entries given as text and as streams that read back byte for byte', async () => {
    const big = Array.from({ length: 20_000 }, (_, i) => `<row r="${i}">福利 ${i}</row>\n`);
    const archive = await collect(
      zipStream([
        { name: 'a.xml', content: '<a/>' },
        { name: 'dir/数据.xml', content: Readable.from(big.map((line) => Buffer.from(line))) },
        { name: 'empty.txt', content: '' },
      ]),
    );
    const files = unzip(archive);
    expect([...files.keys()]).toEqual(['a.xml', 'dir/数据.xml', 'empty.txt']);
    expect(files.get('a.xml')).toBe('<a/>');
    expect(files.get('dir/数据.xml')).toBe(big.join(''));
    expect(files.get('empty.txt')).toBe('');
  });

  it("fails, rather than ends short, when an entry's source fails", async () => {
    async function* failing(): AsyncGenerator<string> {
      yield '<partial>';
      throw new Error('source broke');
    }
    await expect(collect(zipStream([{ name: 'x.xml', content: failing() }]))).rejects.toThrow('source broke');
  });
});
