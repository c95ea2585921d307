import { randomBytes } from 'node:crypto';
import { DataCipher } from '../common/crypto/data-cipher.service';
import type { AppConfig } from '../config/app-config';
import { formatCode, generateCodes, generatePins, serialFromSequence } from '../cards/card-code';
import { CardSecrets } from '../cards/card-secrets';
import { sealV1 } from '../../test/support/v1-envelope';
import { CardCsvConverter, ExportBuildError, isoFromPgTimestamptz } from './export-csv';
import { thrown } from '../../test/support/unit';

describe('isoFromPgTimestamptz', () => {
  it.each([
    ['2029-11-28 15:59:59+00', '2029-11-28T15:59:59.000Z'],
    ['2029-11-28 15:59:59.1+00', '2029-11-28T15:59:59.100Z'],
    ['2029-11-28 15:59:59.123456+00', '2029-11-28T15:59:59.123Z'],
    ['2029-11-28 23:59:59+08', '2029-11-28T15:59:59.000Z'],
    ['2029-11-28 10:29:59-05:30', '2029-11-28T15:59:59.000Z'],
  ])('%s → %s', (text, iso) => {
    expect(isoFromPgTimestamptz(text)).toBe(iso);
  });

  it.each(['infinity', '2029-11-28T15:59:59Z', '28/11/2029 15:59:59+00', '2029-13-45 99:99:99+00'])(
    'refuses %s',
    (text) => {
      expect(() => isoFromPgTimestamptz(text)).toThrow(ExportBuildError);
    },
  );
});

describe('CardCsvConverter', () => {
  /** A stand-in for CardSecretReader: the "envelope" is `code|pin` itself; `NOPE` does not open. */
  const secrets = {
    open(source: Buffer, envelopeStart: number, envelopeEnd: number) {
      if (source.toString('latin1', envelopeStart, envelopeEnd) === 'NOPE') throw new Error('does not open');
      return source.subarray(envelopeStart, envelopeEnd);
    },
  };
  const convert = (converter: CardCsvConverter, text: string) =>
    converter.convert(Buffer.from(text, 'latin1')).toString('latin1');

  it('writes serial, formatted code, PIN, face value and expiry, and counts rows', () => {
    const converter = new CardCsvConverter(secrets);
    expect(
      convert(
        converter,
        '100000000018\tK7QD9XMA2HJR5WPT|012345\t10000\t2029-11-28 15:59:59+00\n' +
          '100000000026\tZZZZ0000AAAA1111|999999\t500000\t\\N\n' +
          '100000000034\tK7QD9XMA2HJR5WPT|012345\t10000\t2029-11-28 23:59:59+08\n',
      ),
    ).toBe(
      '100000000018,K7QD-9XMA-2HJR-5WPT,012345,10000,2029-11-28T15:59:59.000Z\n' +
        '100000000026,ZZZZ-0000-AAAA-1111,999999,500000,\n' +
        '100000000034,K7QD-9XMA-2HJR-5WPT,012345,10000,2029-11-28T15:59:59.000Z\n',
    );
    expect(converter.rowCount).toBe(3);
    expect(convert(converter, '')).toBe('');
    expect(converter.rowCount).toBe(3);
  });

  it('grows its output when the CSV is longer than the COPY text, keeping every row', () => {
    // Short envelopes and long serials and amounts: each CSV line is longer than its COPY line.
    const rows = Array.from(
      { length: 1_000 },
      (_, i) => `${9_000_000_000_000_000_000n + BigInt(i)}\tK7QD9XMA2HJR5WPT|012345\t${900_000_000_000_000 + i}\t\\N\n`,
    );
    const csv = rows.map((row) => {
      const [serial, , amount] = row.split('\t');
      return `${serial},K7QD-9XMA-2HJR-5WPT,012345,${amount},\n`;
    });
    expect(convert(new CardCsvConverter(secrets), rows.join(''))).toBe(csv.join(''));
  });

  it.each([
    ['too few fields', '100000000018\tK7QD9XMA2HJR5WPT|012345\t10000\n'],
    ['too many fields', '100000000018\tK7QD9XMA2HJR5WPT|012345\t10000\t\\N\textra\n'],
    ['no line end', '100000000018\tK7QD9XMA2HJR5WPT|012345\t10000\t\\N'],
    ['a fourth field only on the next line', '100000000018\tK7QD9XMA2HJR5WPT|012345\t10000\n1\t2\t3\t\\N\n'],
    ['an empty expiry', '100000000018\tK7QD9XMA2HJR5WPT|012345\t10000\t\n'],
  ])('refuses a row with %s', (_, text) => {
    expect(() => convert(new CardCsvConverter(secrets), text)).toThrow(
      expect.objectContaining({ name: 'ExportBuildError', code: 'malformed_copy_row' }),
    );
  });

  it('names the serial, and only the serial, of a purged card or an envelope that does not open', () => {
    const converter = new CardCsvConverter(secrets);
    expect(() => convert(converter, '100000000018\t\\N\t10000\t\\N\n')).toThrow(
      expect.objectContaining({
        code: 'card_secrets_purged',
        message: 'card 100000000018 has no stored code any more (purged after an earlier export)',
      }),
    );
    expect(() => convert(converter, '100000000026\tNOPE\t10000\t\\N\n')).toThrow(
      expect.objectContaining({ code: 'card_secret_unreadable', message: 'card 100000000026: does not open' }),
    );
  });

  it('opens real envelopes, v2 and v1 in one chunk, and refuses one moved to another card', () => {
    const keys = { CODE_PEPPER: randomBytes(32).toString('base64'), DATA_ENCRYPTION_KEYS: `k1:${key}` };
    const cards = new CardSecrets(keys as AppConfig, new DataCipher(keys as AppConfig));
    const [codeA, codeB] = generateCodes(2);
    const [pinA, pinB] = generatePins(2);
    const [serialA, serialB] = [serialFromSequence(10_000_000_001), serialFromSequence(10_000_000_002)];
    const v2 = cards.seal(serialA, codeA, pinA);
    const v1 = sealV1('k1', key, `${codeB}|${pinB}`, `cards.code:${serialB}`);
    const converter = new CardCsvConverter(cards.reader());
    expect(
      convert(converter, `${serialA}\t${v2}\t100\t\\N\n${serialB}\t${v1}\t200\t\\N\n${serialA}\t${v2}\t100\t\\N\n`),
    ).toBe(
      `${serialA},${formatCode(codeA)},${pinA},100,\n${serialB},${formatCode(codeB)},${pinB},200,\n` +
        `${serialA},${formatCode(codeA)},${pinA},100,\n`,
    );
    const moved = thrown(() => convert(converter, `${serialB}\t${v2}\t100\t\\N\n`));
    expect(moved).toMatchObject({ code: 'card_secret_unreadable' });
    const text = `${(moved as Error).message} ${(moved as Error).stack}`;
    for (const secret of [codeA, formatCode(codeA), pinA]) expect(text).not.toContain(secret);
  });
});

const key = randomBytes(32).toString('base64');
