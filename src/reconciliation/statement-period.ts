import { ApiError } from '../common/errors/api-error';

/** A statement's period: [from, to). */
export interface StatementPeriod {
  from: Date;
  to: Date;
}

/** Statements count calendar days in China's time: UTC+8 all year (no daylight saving). */
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The start of a calendar day in Asia/Shanghai, or null when `text` is not a real day. */
function shanghaiDayStart(text: string): Date | null {
  const match = DAY.exec(text);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const utc = Date.UTC(year, month - 1, day);
  const check = new Date(utc);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return null;
  return new Date(utc - SHANGHAI_OFFSET_MS);
}

/** `text` as a bound: a day (its start, or for `to` its end) or an instant with an offset; null when neither. */
function bound(text: string, end: boolean): Date | null {
  const day = shanghaiDayStart(text);
  if (day) return end ? new Date(day.getTime() + DAY_MS) : day;
  if (!INSTANT.test(text)) return null;
  const instant = new Date(text);
  return Number.isNaN(instant.getTime()) ? null : instant;
}

/**
 * The period `from`–`to` of a statement request: days are Asia/Shanghai calendar days (`to` includes its day),
 * instants are taken as given (`to` excluded). 400 invalid_date naming each bad bound; 400 invalid_period when the
 * period ends before it starts.
 */
export function parseStatementPeriod(from: string, to: string): StatementPeriod {
  const start = bound(from, false);
  const end = bound(to, true);
  const errors = [...(start ? [] : [{ field: 'from', value: from }]), ...(end ? [] : [{ field: 'to', value: to }])].map(
    ({ field, value }) => ({
      field,
      code: 'invalid_date' as const,
      message: `${field} must be a day (YYYY-MM-DD, Asia/Shanghai) or an instant with its offset, not ${JSON.stringify(value)}`,
    }),
  );
  if (errors.length > 0 || !start || !end) throw ApiError.validation(errors);
  // A day as `to` ends the period at its end but must not come before `from` itself (to=12-01 with from=12-02).
  if (start.getTime() > (shanghaiDayStart(to) ?? end).getTime()) {
    throw ApiError.badRequest('invalid_period', 'The period ends before it starts: from must not be after to', {
      from: start.toISOString(),
      to: end.toISOString(),
    });
  }
  return { from: start, to: end };
}

/** The Asia/Shanghai calendar day (YYYY-MM-DD) an instant falls on. */
export function shanghaiDay(instant: Date): string {
  return new Date(instant.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** One Asia/Shanghai calendar day as a period; 400 invalid_date (on `field`) when `text` is not a real day. */
export function shanghaiDayPeriod(text: string, field = 'date'): StatementPeriod {
  const start = shanghaiDayStart(text);
  if (!start) {
    throw ApiError.validation([
      {
        field,
        code: 'invalid_date',
        message: `${field} must be a day (YYYY-MM-DD, Asia/Shanghai), not ${JSON.stringify(text)}`,
      },
    ]);
  }
  return { from: start, to: new Date(start.getTime() + DAY_MS) };
}
