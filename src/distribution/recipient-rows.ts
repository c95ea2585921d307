/**
 * The checks of one recipient row, the same for the rows of a request body and the rows of an uploaded CSV/XLSX
 * file (whose header names the same fields; `real_name.name` … for the nested real-name fields). Pure: no order, no
 * database. What depends on the order (face values it has, its serials, registered cards) is the service's.
 */
import { isValidSerial } from '../cards/card-code';
import {
  idNumberProblem,
  normaliseIdNumber,
  PURCHASER_ID_TYPES,
  PURCHASER_NAME_MAX,
  type PurchaserIdType,
} from '../orders/purchaser-identity';
import {
  DISTRIBUTION_CHANNELS,
  DISTRIBUTION_LOCALES,
  type DistributionChannel,
  type DistributionLocale,
} from './distribution.entity';

/** Recipients of one request (inline), and rows of one uploaded file. */
export const MAX_INLINE_RECIPIENTS = 10_000;
export const MAX_FILE_ROWS = 100_000;
/** Row errors listed in a 422 (and kept with a file): the total is always given beside them. */
export const MAX_LISTED_ROW_ERRORS = 1_000;

export const EMPLOYEE_REF_MAX = 100;
export const RECIPIENT_NAME_MAX = 100;
export const GREETING_MAX = 100;
export const EMAIL_MAX = 254;

/** The fields of a recipient, as the JSON body and a file's header name them. */
export const RECIPIENT_FIELDS = [
  'employee_ref',
  'name',
  'email',
  'mobile',
  'channel',
  'face_value',
  'serial',
  'greeting',
  'locale',
  'holder_ref',
  'channel_client_id',
  'real_name',
] as const;
export const REAL_NAME_FIELDS = ['name', 'id_type', 'id_number', 'mobile'] as const;

/** The codes a row can fail with (README, "Distributing cards to employees"). */
export const ROW_ERROR_CODES = [
  'employee_ref_required',
  'invalid_employee_ref',
  'invalid_name',
  'invalid_email',
  'invalid_mobile',
  'invalid_channel',
  'email_required',
  'mobile_required',
  'holder_ref_required',
  'card_required',
  'face_value_or_serial',
  'invalid_face_value',
  'invalid_serial',
  'greeting_too_long',
  'invalid_locale',
  'invalid_real_name',
  'invalid_id_number',
  'duplicate_recipient',
  'duplicate_serial',
  'unknown_field',
  // Against the order (the service's checks):
  'face_value_not_in_order',
  'serial_not_in_order',
  'serial_not_available',
  'real_name_required',
] as const;
export type RowErrorCode = (typeof ROW_ERROR_CODES)[number];

export interface RowError {
  /** 1-based: the element of `recipients`, or the data row of the file (the header is not counted). */
  row: number;
  field: string;
  code: RowErrorCode;
  message: string;
}

/** A registered card holder's identity: bound to the card, stored only sealed (see realNameEnvelopeContext). */
export interface RealName {
  name: string;
  id_type: PurchaserIdType;
  id_number: string;
  /** E.164, +86 and 11 digits. */
  mobile: string;
}

/** A row that passed every check, normalised (mobile in E.164, id number upper-case without separators). */
export interface RecipientRow {
  rowNumber: number;
  employeeRef: string;
  name: string | null;
  email: string | null;
  mobile: string | null;
  channel: DistributionChannel;
  faceValue: number | null;
  serial: string | null;
  greeting: string | null;
  locale: DistributionLocale;
  holderRef: string | null;
  channelClientId: string | null;
  realName: RealName | null;
}

const EMAIL =
  /^[^\s@"(),:;<>[\\\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
/** Mainland mobile: 11 digits starting 13–19, optionally after 86 or +86 (spaces and hyphens ignored). */
const MOBILE = /^(?:\+?86)?(1[3-9]\d{9})$/;

/** `+86` and the 11 digits, or null when `value` is not a mainland mobile number. */
export function normaliseMainlandMobile(value: string): string | null {
  const match = MOBILE.exec(value.replace(/[\s-]/g, ''));
  return match ? `+86${match[1]}` : null;
}

export function isEmail(value: string): boolean {
  return value.length <= EMAIL_MAX && EMAIL.test(value);
}

/** Text of a cell or JSON value: trimmed; empty and absent are the same (null). Numbers become their digits. */
function text(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

const length = (value: string) => [...value].length;

/**
 * A file record (header → cell text) as the JSON a request would carry: `real_name.<field>` columns become the
 * nested `real_name` object (left out when all of them are empty).
 */
export function recordToInput(record: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  const realName: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    const header = key.trim();
    if (header.startsWith('real_name.')) {
      if (value !== null && value !== undefined && !(typeof value === 'string' && value.trim() === '')) {
        realName[header.slice('real_name.'.length)] = value;
      }
    } else if (header !== '') input[header] = value;
  }
  if (Object.keys(realName).length > 0) input.real_name = realName;
  return input;
}

/** Checks one row; every problem is reported, not only the first. */
export function checkRecipientRow(
  input: unknown,
  rowNumber: number,
): { row: RecipientRow; errors: [] } | { row: null; errors: RowError[] } {
  const errors: RowError[] = [];
  const fail = (field: string, code: RowErrorCode, message: string) =>
    errors.push({ row: rowNumber, field, code, message });
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    fail('employee_ref', 'employee_ref_required', 'A recipient is an object with at least employee_ref');
    return { row: null, errors };
  }
  const record = input as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(RECIPIENT_FIELDS as readonly string[]).includes(key)) fail(key, 'unknown_field', `unknown field '${key}'`);
  }

  const employeeRef = text(record.employee_ref);
  if (employeeRef === null) fail('employee_ref', 'employee_ref_required', 'employee_ref is required');
  else if (employeeRef === undefined || length(employeeRef) > EMPLOYEE_REF_MAX) {
    fail('employee_ref', 'invalid_employee_ref', `employee_ref must be text of at most ${EMPLOYEE_REF_MAX} characters`);
  }

  const name = text(record.name);
  if (name === undefined || (name !== null && length(name) > RECIPIENT_NAME_MAX)) {
    fail('name', 'invalid_name', `name must be text of at most ${RECIPIENT_NAME_MAX} characters`);
  }

  const email = text(record.email);
  if (email === undefined || (email !== null && !isEmail(email))) {
    fail('email', 'invalid_email', 'email is not an e-mail address');
  }

  const mobileText = text(record.mobile);
  const mobile = typeof mobileText === 'string' ? normaliseMainlandMobile(mobileText) : null;
  if (mobileText === undefined || (mobileText !== null && mobile === null)) {
    fail('mobile', 'invalid_mobile', 'mobile must be a mainland China mobile number: 11 digits starting 13 to 19');
  }

  const channelText = text(record.channel);
  const channel = (DISTRIBUTION_CHANNELS as readonly unknown[]).includes(channelText)
    ? (channelText as DistributionChannel)
    : null;
  if (!channel) fail('channel', 'invalid_channel', `channel must be one of ${DISTRIBUTION_CHANNELS.join(', ')}`);

  const holderRef = text(record.holder_ref);
  const channelClientId = text(record.channel_client_id);
  if (holderRef === undefined) fail('holder_ref', 'holder_ref_required', 'holder_ref must be text');
  if (channelClientId === undefined) fail('channel_client_id', 'holder_ref_required', 'channel_client_id must be text');
  if (channel === 'email' && email === null) fail('email', 'email_required', 'channel email needs an email');
  if (channel === 'sms' && mobileText === null) fail('mobile', 'mobile_required', 'channel sms needs a mobile');
  if (channel === 'account') {
    if (holderRef === null) fail('holder_ref', 'holder_ref_required', 'channel account needs holder_ref');
    if (channelClientId === null) {
      fail('channel_client_id', 'holder_ref_required', 'channel account needs channel_client_id');
    }
  }

  const faceValue = faceValueOf(record.face_value);
  const serialText = text(record.serial);
  if (faceValue === undefined) fail('face_value', 'invalid_face_value', 'face_value must be a positive integer (fen)');
  if (serialText === undefined || (serialText !== null && !isValidSerial(serialText))) {
    fail('serial', 'invalid_serial', 'serial is not a card serial (digits with a Luhn check digit)');
  }
  if (faceValue === null && serialText === null) {
    fail('face_value', 'card_required', 'name the card: face_value (fen) or serial');
  } else if (faceValue !== null && faceValue !== undefined && serialText !== null && serialText !== undefined) {
    fail('serial', 'face_value_or_serial', 'give face_value or serial, not both');
  }

  const greeting = text(record.greeting);
  if (greeting === undefined || (greeting !== null && length(greeting) > GREETING_MAX)) {
    fail('greeting', 'greeting_too_long', `greeting must be text of at most ${GREETING_MAX} characters`);
  }

  const localeText = text(record.locale);
  const locale =
    localeText === null
      ? 'zh-CN'
      : (DISTRIBUTION_LOCALES as readonly unknown[]).includes(localeText)
        ? (localeText as DistributionLocale)
        : null;
  if (!locale) fail('locale', 'invalid_locale', `locale must be one of ${DISTRIBUTION_LOCALES.join(', ')}`);

  const realName =
    record.real_name === undefined || record.real_name === null ? null : checkRealName(record.real_name, fail);

  if (errors.length > 0) return { row: null, errors };
  return {
    row: {
      rowNumber,
      employeeRef: employeeRef!,
      name: name ?? null,
      email: email ?? null,
      mobile,
      channel: channel!,
      faceValue: faceValue ?? null,
      serial: serialText ?? null,
      greeting: greeting ?? null,
      locale: locale!,
      holderRef: holderRef ?? null,
      channelClientId: channelClientId ?? null,
      realName: realName ?? null,
    },
    errors: [],
  };
}

/** A positive integer from a JSON number or a cell's digits; null when absent, undefined when not one. */
function faceValueOf(value: unknown): number | null | undefined {
  if (value === undefined || value === null || value === '') return null;
  const number =
    typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(number) && number > 0 ? number : undefined;
}

function checkRealName(
  value: unknown,
  fail: (field: string, code: RowErrorCode, message: string) => void,
): RealName | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('real_name', 'invalid_real_name', 'real_name is an object: name, id_type, id_number, mobile');
    return undefined;
  }
  const record = value as Record<string, unknown>;
  const before = { count: 0 };
  const failed = (field: string, code: RowErrorCode, message: string) => {
    before.count++;
    fail(`real_name.${field}`, code, message);
  };
  for (const key of Object.keys(record)) {
    if (!(REAL_NAME_FIELDS as readonly string[]).includes(key)) failed(key, 'unknown_field', `unknown field '${key}'`);
  }
  const name = text(record.name);
  if (!name || length(name) > PURCHASER_NAME_MAX) {
    failed('name', 'invalid_real_name', `real_name.name is required, at most ${PURCHASER_NAME_MAX} characters`);
  }
  const idType = text(record.id_type);
  if (!(PURCHASER_ID_TYPES as readonly unknown[]).includes(idType)) {
    failed('id_type', 'invalid_real_name', `real_name.id_type must be one of ${PURCHASER_ID_TYPES.join(', ')}`);
  }
  const idText = text(record.id_number);
  const idNumber = typeof idText === 'string' ? normaliseIdNumber(idText) : null;
  if (!idNumber) failed('id_number', 'invalid_real_name', 'real_name.id_number is required');
  else if (typeof idType === 'string') {
    const problem = idNumberProblem(idType, idNumber);
    if (problem) failed('id_number', 'invalid_id_number', `real_name.id_number ${problem}`);
  }
  const mobileText = text(record.mobile);
  const mobile = typeof mobileText === 'string' ? normaliseMainlandMobile(mobileText) : null;
  if (!mobile) {
    failed('mobile', 'invalid_mobile', 'real_name.mobile must be a mainland China mobile number (11 digits)');
  }
  if (before.count > 0) return undefined;
  return { name: name!, id_type: idType as PurchaserIdType, id_number: idNumber!, mobile: mobile! };
}

/**
 * Checks every row and the rows against each other (one employee_ref, and one explicit serial, per request): the
 * good rows, and every error in row order.
 */
export function checkRecipientRows(
  inputs: Iterable<unknown>,
  firstRow = 1,
): { rows: RecipientRow[]; errors: RowError[] } {
  const checker = new RecipientRowsChecker();
  let rowNumber = firstRow;
  for (const input of inputs) checker.add(input, rowNumber++);
  return checker.result();
}

/** checkRecipientRows one row at a time (a file is checked as it streams). */
export class RecipientRowsChecker {
  private readonly rows: RecipientRow[] = [];
  private readonly errors: RowError[] = [];
  private readonly employees = new Map<string, number>();
  private readonly serials = new Map<string, number>();

  /** The row, when it passed. */
  add(input: unknown, rowNumber: number): RecipientRow | null {
    const checked = checkRecipientRow(input, rowNumber);
    const errors: RowError[] = [...checked.errors];
    const employeeRef =
      checked.row?.employeeRef ??
      (typeof input === 'object' && input !== null ? text((input as Record<string, unknown>).employee_ref) : null);
    if (typeof employeeRef === 'string') {
      const first = this.employees.get(employeeRef);
      if (first !== undefined) {
        errors.push({
          row: rowNumber,
          field: 'employee_ref',
          code: 'duplicate_recipient',
          message: `employee_ref '${employeeRef}' is already row ${first}: one card per recipient`,
        });
      } else this.employees.set(employeeRef, rowNumber);
    }
    const serial = checked.row?.serial;
    if (serial) {
      const first = this.serials.get(serial);
      if (first !== undefined) {
        errors.push({
          row: rowNumber,
          field: 'serial',
          code: 'duplicate_serial',
          message: `serial is already row ${first}`,
        });
      } else this.serials.set(serial, rowNumber);
    }
    this.errors.push(...errors);
    if (errors.length > 0 || !checked.row) return null;
    this.rows.push(checked.row);
    return checked.row;
  }

  get errorCount(): number {
    return this.errors.length;
  }

  result(): { rows: RecipientRow[]; errors: RowError[] } {
    return { rows: this.rows, errors: this.errors };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Real-name data at rest
// ---------------------------------------------------------------------------------------------------------------

/** Associated data of a recipient's sealed real name: an envelope copied onto another recipient does not open. */
export function realNameEnvelopeContext(recipientId: string): string {
  return `distribution_recipients.real_name:${recipientId}`;
}

/** Exactly these four fields, in this order, as the JSON that is sealed. */
export function serialiseRealName(realName: RealName): string {
  const { name, id_type, id_number, mobile } = realName;
  return JSON.stringify({ name, id_type, id_number, mobile });
}

/** serialiseRealName's JSON back (after opening); TypeError, naming no data, when it is not one. */
export function parseRealName(json: string): RealName {
  const value = JSON.parse(json) as Partial<Record<keyof RealName, unknown>>;
  if (
    typeof value?.name !== 'string' ||
    typeof value.id_number !== 'string' ||
    typeof value.mobile !== 'string' ||
    !(PURCHASER_ID_TYPES as readonly unknown[]).includes(value.id_type)
  ) {
    throw new TypeError('The sealed real name does not have the expected fields');
  }
  return value as RealName;
}

/** 张三 → 张*; 110105194912310021 → 110***********0021; +8613812345678 → +86 138****5678. */
export function maskRealName(realName: RealName): Record<string, string> {
  const [first = '', ...rest] = [...realName.name];
  const id = realName.id_number;
  const keep = Math.min(4, Math.floor(id.length / 4));
  const start = Math.min(3, Math.floor(id.length / 4));
  const digits = realName.mobile.slice(-11);
  return {
    name: first + '*'.repeat(Math.max(1, rest.length)),
    id_type: realName.id_type,
    id_number: id.slice(0, start) + '*'.repeat(id.length - start - keep) + id.slice(id.length - keep),
    mobile: `+86 ${digits.slice(0, 3)}****${digits.slice(-4)}`,
  };
}
