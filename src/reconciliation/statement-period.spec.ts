import { ApiError } from '../common/errors/api-error';
import { parseStatementPeriod, shanghaiDay } from './statement-period';
import { yuanText } from './statement-files';
import { statementFormat } from './statement.service';

function codeOf(work: () => unknown): { status: number; code: string } | null {
  try {
    work();
    return null;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { status: error.getStatus(), code: error.code };
  }
}

describe('statement periods', () => {
  it('takes days as Asia/Shanghai calendar days, `to` including its day', () => {
    expect(parseStatementPeriod('2026-12-01', '2026-12-31')).toEqual({
      from: new Date('2026-11-30T16:00:00.000Z'),
      to: new Date('2026-12-31T16:00:00.000Z'),
    });
    expect(parseStatementPeriod('2026-12-01', '2026-12-01').to).toEqual(new Date('2026-12-01T16:00:00.000Z'));
  });

  it('takes instants with their offset as given', () => {
    expect(parseStatementPeriod('2026-12-01T08:00:00+08:00', '2026-12-01T01:00:00.5Z')).toEqual({
      from: new Date('2026-12-01T00:00:00.000Z'),
      to: new Date('2026-12-01T01:00:00.500Z'),
    });
  });

  it.each([
    ['2026-13-01', '2026-12-31'],
    ['2026-02-29', '2026-03-01'],
    ['2026-12-01T00:00:00', '2026-12-31'],
    ['yesterday', '2026-12-31'],
    ['2026-12-01', '2026-12-32'],
  ])('refuses %s – %s with invalid_date', (from, to) => {
    expect(codeOf(() => parseStatementPeriod(from, to))).toEqual({ status: 400, code: 'invalid_date' });
  });

  it('refuses a period that ends before it starts with invalid_period', () => {
    expect(codeOf(() => parseStatementPeriod('2026-12-02', '2026-12-01'))).toEqual({
      status: 400,
      code: 'invalid_period',
    });
  });

  it('names the Shanghai day of an instant', () => {
    expect(shanghaiDay(new Date('2026-11-30T16:00:00Z'))).toBe('2026-12-01');
    expect(shanghaiDay(new Date('2026-11-30T15:59:59.999Z'))).toBe('2026-11-30');
  });
});

describe('statement formats', () => {
  const xlsx = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
  it.each([
    [undefined, undefined, 'json'],
    [undefined, '*/*', 'json'],
    [undefined, 'text/csv', 'csv'],
    [undefined, `${xlsx}, text/csv;q=0.5`, 'csv'],
    [undefined, xlsx, 'xlsx'],
    ['xlsx', 'text/csv', 'xlsx'],
  ] as const)('format %s with Accept %s is %s', (format, accept, expected) => {
    expect(statementFormat(format, accept)).toBe(expected);
  });

  it('answers 406 not_acceptable when Accept admits none', () => {
    expect(codeOf(() => statementFormat(undefined, 'application/pdf'))).toEqual({
      status: 406,
      code: 'not_acceptable',
    });
  });

  it('writes fen as CNY with two decimals, exactly', () => {
    expect([0, 5, -5, 1_234, -100, 123_456_789].map(yuanText)).toEqual([
      '0.00',
      '0.05',
      '-0.05',
      '12.34',
      '-1.00',
      '1234567.89',
    ]);
  });
});
