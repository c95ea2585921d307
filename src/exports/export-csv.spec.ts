import { CardCsvConverter, ExportBuildError, isoFromPgTimestamptz } from './export-csv';

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
  const open = (serial: string, envelope: string) => {
    const [code, pin] = envelope.split(':');
    return { code, pin };
  };

  it('writes serial, formatted code, PIN, face value and expiry, and counts rows', () => {
    const converter = new CardCsvConverter(open);
    expect(
      converter.convert(
        '100000000018\tK7QD9XMA2HJR5WPT:012345\t10000\t2029-11-28 15:59:59+00\n' +
          '100000000026\tZZZZ0000AAAA1111:999999\t500000\t\\N\n',
      ),
    ).toBe(
      '100000000018,K7QD-9XMA-2HJR-5WPT,012345,10000,2029-11-28T15:59:59.000Z\n100000000026,ZZZZ-0000-AAAA-1111,999999,500000,\n',
    );
    expect(converter.rowCount).toBe(2);
    expect(converter.convert('')).toBe('');
    expect(converter.rowCount).toBe(2);
  });

  it.each([
    ['too few fields', '100000000018\tK7QD9XMA2HJR5WPT:012345\t10000\n'],
    ['too many fields', '100000000018\tK7QD9XMA2HJR5WPT:012345\t10000\t\\N\textra\n'],
    ['no line end', '100000000018\tK7QD9XMA2HJR5WPT:012345\t10000\t\\N'],
  ])('refuses a row with %s', (_, text) => {
    expect(() => new CardCsvConverter(open).convert(text)).toThrow(ExportBuildError);
  });
});
