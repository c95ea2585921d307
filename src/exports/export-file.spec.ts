import { createHash } from 'node:crypto';
import { decrypt, generateKey, readMessage, type PrivateKey, type PublicKey } from 'openpgp';
import { formatCode, generateCodes, generatePins, serialFromSequence } from '../cards/card-code';
import { InlineConverter, type ChunkConverter, type ConvertedChunk } from './decrypt-pool';
import { EXPORT_CSV_HEADER, ExportBuildError } from './export-csv';
import { writeExportFile } from './export-file';

/** A stand-in for CardSecretReader: the "envelope" is `<serial>|code|pin`, bound to the serial. */
const secrets = {
  open(source: Buffer, envelopeStart: number, envelopeEnd: number, serialStart: number, serialEnd: number) {
    const envelope = source.toString('latin1', envelopeStart, envelopeEnd);
    const serial = source.toString('latin1', serialStart, serialEnd);
    if (!envelope.startsWith(`${serial}|`)) throw new Error('envelope does not open for this card');
    return Buffer.from(envelope.slice(serial.length + 1), 'latin1');
  },
};

/** COPY text of `count` cards, cut into pieces of `pieceBytes` regardless of line boundaries. */
function copyOutput(count: number, pieceBytes: number, expires: string | null = '2029-11-28 15:59:59+00') {
  const codes = generateCodes(count);
  const pins = generatePins(count);
  const lines: string[] = [];
  const csv: string[] = [EXPORT_CSV_HEADER];
  for (let i = 0; i < count; i++) {
    const serial = serialFromSequence(10_000_000_000 + i);
    lines.push(`${serial}\t${serial}|${codes[i]}|${pins[i]}\t10000\t${expires ?? '\\N'}\n`);
    csv.push(`${serial},${formatCode(codes[i])},${pins[i]},10000,${expires ? '2029-11-28T15:59:59.000Z' : ''}\n`);
  }
  const all = Buffer.from(lines.join(''), 'latin1');
  const pieces: Buffer[] = [];
  for (let at = 0; at < all.length; at += pieceBytes) pieces.push(all.subarray(at, at + pieceBytes));
  return { pieces, csv: csv.join('') };
}

async function* iterate(pieces: Buffer[]) {
  for (const piece of pieces) yield piece;
}

/** A stand-in for FileStorage.write: keeps the file only once its stream ended, as the store does. */
class MemoryStore {
  readonly files = new Map<string, Buffer>();

  for(name: string) {
    return async (encrypted: AsyncIterable<Uint8Array>) => {
      const parts: Buffer[] = [];
      for await (const part of encrypted) parts.push(Buffer.from(part));
      const file = Buffer.concat(parts);
      this.files.set(name, file);
      return { sizeBytes: file.length };
    };
  }
}

describe('writeExportFile', () => {
  let publicKey: PublicKey;
  let privateKey: PrivateKey;
  const store = new MemoryStore();

  beforeAll(async () => {
    const pair = await generateKey({ userIDs: [{ name: 'ERP', email: 'erp@example.com' }], format: 'object' });
    publicKey = pair.publicKey;
    privateKey = pair.privateKey;
  });

  async function decryptFile(name: string) {
    const message = await readMessage({ binaryMessage: store.files.get(name)! });
    const { data, filename } = await decrypt({ message, decryptionKeys: privateKey, format: 'binary' });
    return { text: Buffer.from(data).toString('latin1'), filename };
  }

  it.each([
    ['rows split across pieces', 2_500, 1_000],
    ['one row per piece boundary', 50, 7],
    ['no rows', 0, 1],
  ])('streams %s into one OpenPGP message with a matching manifest', async (_, count, pieceBytes) => {
    const { pieces, csv } = copyOutput(count, pieceBytes);
    const path = `export-${count}.pgp`;
    const result = await writeExportFile({
      copy: iterate(pieces),
      converter: new InlineConverter(secrets),
      recipient: publicKey,
      store: store.for(path),
      literalName: 'cards.csv',
      date: new Date('2026-01-01T00:00:00Z'),
    });
    const { text, filename } = await decryptFile(path);
    expect(text).toBe(csv);
    expect(filename).toBe('cards.csv');
    expect(result.rowCount).toBe(count);
    expect(result.plaintextSha256).toBe(createHash('sha256').update(csv, 'latin1').digest('hex'));
    expect(result.sizeBytes).toBe(store.files.get(path)!.length);
  });

  it('keeps the rows in order when chunks are converted concurrently and finish out of order', async () => {
    const { pieces, csv } = copyOutput(20_000, 4_096);
    const inline = new InlineConverter(secrets);
    let active = 0;
    let most = 0;
    /** Like a worker pool: several chunks at once, each answered after a random delay. */
    const shuffled: ChunkConverter = {
      parallelism: 4,
      async convert(lines: Buffer): Promise<ConvertedChunk> {
        const converted = await inline.convert(lines);
        active++;
        most = Math.max(most, active);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
        active--;
        return converted;
      },
      close: async () => undefined,
    };
    const path = 'concurrent.pgp';
    const result = await writeExportFile({
      copy: iterate(pieces),
      converter: shuffled,
      recipient: publicKey,
      store: store.for(path),
      literalName: 'c.csv',
      date: new Date(),
    });
    expect((await decryptFile(path)).text).toBe(csv);
    expect(result.rowCount).toBe(20_000);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
  });

  it('writes an empty expiry for cards without one', async () => {
    const { pieces, csv } = copyOutput(3, 64, null);
    const path = 'no-expiry.pgp';
    await writeExportFile({
      copy: iterate(pieces),
      converter: new InlineConverter(secrets),
      recipient: publicKey,
      store: store.for(path),
      literalName: 'c.csv',
      date: new Date(),
    });
    expect((await decryptFile(path)).text).toBe(csv);
    expect(csv.split('\n')[1]).toMatch(/,10000,$/);
  });

  it('fails on a purged card and leaves no file behind', async () => {
    const { pieces } = copyOutput(10, 100_000);
    const purged = Buffer.from(`${serialFromSequence(20_000_000_000)}\t\\N\t10000\t\\N\n`, 'latin1');
    const path = 'purged.pgp';
    const attempt = writeExportFile({
      copy: iterate([...pieces, purged]),
      converter: new InlineConverter(secrets),
      recipient: publicKey,
      store: store.for(path),
      literalName: 'c.csv',
      date: new Date(),
    });
    await expect(attempt).rejects.toThrow(ExportBuildError);
    await expect(attempt).rejects.toMatchObject({ code: 'card_secrets_purged' });
    expect(store.files.has(path)).toBe(false);
  });

  it('fails when an envelope does not open, naming the serial only', async () => {
    const serial = serialFromSequence(30_000_000_000);
    const row = Buffer.from(`${serial}\t${serialFromSequence(30_000_000_001)}|K7QD9XMA2HJR5WPT|123456\t100\t\\N\n`);
    const attempt = writeExportFile({
      copy: iterate([row]),
      converter: new InlineConverter(secrets),
      recipient: publicKey,
      store: store.for('unreadable.pgp'),
      literalName: 'c.csv',
      date: new Date(),
    });
    await expect(attempt).rejects.toMatchObject({ code: 'card_secret_unreadable' });
    await expect(attempt).rejects.toThrow(new RegExp(`^card ${serial}: `));
    await expect(attempt).rejects.not.toThrow(/K7QD|123456/);
  });
});
