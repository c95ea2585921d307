/**
 * The purchaser identity that the real-name rules (README.md, "PRC prepaid-card rules") ask for: name, identity document and a
 * mainland mobile number. The order stores it encrypted (the caller encrypts serialisePurchaser's JSON
 * with DataCipher) and shows only maskPurchaser's form.
 */
import { ApiProperty } from '@nestjs/swagger';
import type { TransformFnParams } from 'class-transformer';
import { Transform } from 'class-transformer';
import { buildMessage, IsIn, IsString, Matches, ValidateBy, type ValidationOptions } from 'class-validator';
import type { MaskedPurchaser } from './order.entity';

export const PURCHASER_ID_TYPES = ['resident_id', 'passport', 'hk_macao_permit', 'taiwan_permit'] as const;

/**
 * resident_id: 居民身份证 (GB 11643, 18 characters); passport; hk_macao_permit: 港澳居民来往内地通行证
 * (H or M and 8 or 10 digits); taiwan_permit: 台湾居民来往大陆通行证 (8 digits, or 10 digits and a letter).
 */
export type PurchaserIdType = (typeof PURCHASER_ID_TYPES)[number];

export interface PurchaserIdentity {
  name: string;
  id_type: PurchaserIdType;
  id_number: string;
  /** Mainland mobile number, 11 digits (a +86 prefix is removed on input). */
  phone: string;
}

export const PURCHASER_NAME_MAX = 50;

/** 11 digits starting 13–19, as the DTO stores it. */
export const MAINLAND_MOBILE = /^1[3-9]\d{9}$/;
/** What the API accepts: the 11 digits, optionally after +86 (and one space or hyphen). */
export const MAINLAND_MOBILE_INPUT = /^(?:\+86[ -]?)?1[3-9]\d{9}$/;

const ID_NUMBER_FORMATS: Record<Exclude<PurchaserIdType, 'resident_id'>, { pattern: RegExp; description: string }> = {
  passport: { pattern: /^[A-Z0-9]{5,20}$/, description: '5 to 20 letters or digits' },
  hk_macao_permit: { pattern: /^[HM]\d{8}(\d{2})?$/, description: 'H or M followed by 8 or 10 digits' },
  taiwan_permit: { pattern: /^\d{8}(\d{2}[A-Z])?$/, description: '8 digits, or 10 digits and a letter' },
};

// ---------------------------------------------------------------------------------------------------------------
// Resident identity card number, GB 11643-1999
// ---------------------------------------------------------------------------------------------------------------

/** Weight of position i (0-based) is 2^(17−i) mod 11. */
const RESIDENT_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
/** Check character for (weighted sum mod 11): ISO 7064 MOD 11-2, with 10 written X. */
const RESIDENT_ID_CHECK = '10X98765432';
const RESIDENT_ID_FORMAT = /^\d{17}[\dX]$/;

/**
 * The check character (position 18) of a resident ID from its first 17 digits (ISO 7064 MOD 11-2).
 * Accepts a 17-digit body or a whole 18-character number; throws RangeError otherwise.
 */
export function residentIdCheckCharacter(id: string): string {
  if (!/^\d{17}[\dX]?$/.test(id)) throw new RangeError('A resident ID body is 17 digits');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * RESIDENT_ID_WEIGHTS[i];
  return RESIDENT_ID_CHECK[sum % 11];
}

/** Today's date in China (UTC+8, no daylight saving) as YYYYMMDD. */
function chinaToday(now: Date): string {
  return new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 10).replaceAll('-', '');
}

/**
 * A real calendar date from 1900-01-01 (no purchaser alive today was born earlier; GB 11643's own example
 * born 1880 is refused) up to today in China.
 */
function isPossibleBirthDate(yyyymmdd: string, now: Date): boolean {
  const year = Number(yyyymmdd.slice(0, 4));
  const month = Number(yyyymmdd.slice(4, 6));
  const day = Number(yyyymmdd.slice(6, 8));
  if (year < 1900 || month < 1 || month > 12 || day < 1) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return false;
  return yyyymmdd <= chinaToday(now);
}

/**
 * Why `id` is not a valid 18-character resident ID (upper-case X), or null when it is:
 * the format, the birth date (positions 7–14) or the check character.
 */
export function residentIdProblem(id: string, now: Date = new Date()): string | null {
  if (!RESIDENT_ID_FORMAT.test(id)) return 'must be 18 characters: 17 digits and a digit or X';
  if (!isPossibleBirthDate(id.slice(6, 14), now)) return 'has an impossible birth date';
  if (residentIdCheckCharacter(id) !== id[17]) return 'has a wrong check character';
  return null;
}

export function isValidResidentId(id: string, now: Date = new Date()): boolean {
  return residentIdProblem(id, now) === null;
}

/** Why `idNumber` is not a valid number for `idType`, or null when it is (or the type is unknown). */
export function idNumberProblem(idType: unknown, idNumber: string, now: Date = new Date()): string | null {
  if (idType === 'resident_id') return residentIdProblem(idNumber, now);
  if (typeof idType !== 'string' || !Object.hasOwn(ID_NUMBER_FORMATS, idType)) return null;
  const format = ID_NUMBER_FORMATS[idType as keyof typeof ID_NUMBER_FORMATS];
  return format.pattern.test(idNumber) ? null : `must be ${format.description} for ${idType}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Normalisation and validation of the DTO
// ---------------------------------------------------------------------------------------------------------------

function trimmed({ value }: TransformFnParams): unknown {
  return typeof value === 'string' ? value.trim() : value;
}

/** Document numbers: spaces and hyphens dropped, letters upper-cased (a resident ID's x becomes X). */
export function normaliseIdNumber(value: string): string {
  return value.replace(/[\s-]/g, '').toUpperCase();
}

/** 11 digits: surrounding space and a +86 prefix removed; anything else is left for the validator to refuse. */
export function normaliseMobile(value: string): string {
  const trimmedValue = value.trim();
  return MAINLAND_MOBILE_INPUT.test(trimmedValue) ? trimmedValue.slice(-11) : trimmedValue;
}

function idNumberInput({ value }: TransformFnParams): unknown {
  return typeof value === 'string' ? normaliseIdNumber(value) : value;
}

function mobileInput({ value }: TransformFnParams): unknown {
  return typeof value === 'string' ? normaliseMobile(value) : value;
}

/** 1–50 characters counted as code points (so rare characters outside the BMP count once). */
function IsPurchaserName(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPurchaserName',
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string') return false;
          const length = [...value].length;
          return length >= 1 && length <= PURCHASER_NAME_MAX;
        },
        defaultMessage: buildMessage(
          (each) => `${each}$property must be 1 to ${PURCHASER_NAME_MAX} characters`,
          options,
        ),
      },
    },
    options,
  );
}

/** The id_number checked against the id_type of the same object (resident IDs: birth date and check character). */
export function IsPurchaserIdNumber(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPurchaserIdNumber',
      validator: {
        validate: (value: unknown, args) =>
          typeof value === 'string' && idNumberProblem((args?.object as { id_type?: unknown }).id_type, value) === null,
        defaultMessage: buildMessage((each, args) => {
          const value: unknown = args?.value;
          const problem =
            typeof value === 'string'
              ? idNumberProblem((args?.object as { id_type?: unknown }).id_type, value)
              : 'must be a string';
          return `${each}$property ${problem ?? 'is invalid'}`;
        }, options),
      },
    },
    options,
  );
}

/** Request body part for real-name purchases; nest it with @ValidateNested() and @Type(() => PurchaserIdentityDto). */
export class PurchaserIdentityDto implements PurchaserIdentity {
  @ApiProperty({ description: 'Full name as on the identity document', minLength: 1, maxLength: 50, example: '张三' })
  @Transform(trimmed)
  @IsPurchaserName()
  name: string;

  @ApiProperty({ enum: PURCHASER_ID_TYPES, example: 'resident_id' })
  @IsIn(PURCHASER_ID_TYPES)
  id_type: PurchaserIdType;

  @ApiProperty({
    description:
      'Document number. resident_id: 18 characters with a valid birth date and GB 11643 check character; ' +
      'passport: 5–20 letters or digits; hk_macao_permit: H or M and 8 or 10 digits; ' +
      'taiwan_permit: 8 digits, or 10 digits and a letter. Spaces and hyphens are ignored.',
    example: '11010519491231002X',
    minLength: 5,
    maxLength: 40,
  })
  @Transform(idNumberInput)
  @IsString()
  @IsPurchaserIdNumber()
  id_number: string;

  @ApiProperty({
    description: 'Mainland China mobile number, optionally after +86; stored as its 11 digits',
    example: '13800138000',
    pattern: MAINLAND_MOBILE_INPUT.source,
  })
  @Transform(mobileInput)
  @IsString()
  @Matches(MAINLAND_MOBILE, {
    message: 'phone must be a mainland China mobile number: 11 digits starting 13 to 19, optionally after +86',
  })
  phone: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Masking and serialisation
// ---------------------------------------------------------------------------------------------------------------

/**
 * Name: first character and one asterisk per further character (at least one): 张三 → 张*, 欧阳娜娜 → 欧***.
 * id_number: first 3 + asterisks + last 4 (110***********002X); numbers shorter than 14 characters keep
 * at most a quarter at each end instead, so that at least half is always hidden (E1234567 → E1****67).
 * phone: first 3 + **** + last 4 (138****8000).
 */
export function maskPurchaser(identity: PurchaserIdentity): MaskedPurchaser {
  return {
    name: maskName(identity.name),
    id_type: identity.id_type,
    id_number: maskIdNumber(identity.id_number),
    phone: maskPhone(identity.phone),
  };
}

function maskName(name: string): string {
  const [first = '', ...rest] = [...name.trim()];
  return first + '*'.repeat(Math.max(1, rest.length));
}

function maskIdNumber(idNumber: string): string {
  const keepStart = Math.min(3, Math.floor(idNumber.length / 4));
  const keepEnd = Math.min(4, Math.floor(idNumber.length / 4));
  const hidden = idNumber.length - keepStart - keepEnd;
  return idNumber.slice(0, keepStart) + '*'.repeat(hidden) + idNumber.slice(idNumber.length - keepEnd);
}

function maskPhone(phone: string): string {
  const digits = normaliseMobile(phone);
  if (digits.length < 8) return '*'.repeat(digits.length);
  return `${digits.slice(0, 3)}****${digits.slice(-4)}`;
}

/** Associated data of an order's purchaser envelope: an envelope copied onto another order does not open. */
export function purchaserEnvelopeContext(orderId: string): string {
  return `orders.purchaser:${orderId}`;
}

/**
 * The identity as JSON for the caller to encrypt (DataCipher): exactly these four fields, in this order,
 * so that equal identities serialise equally.
 */
export function serialisePurchaser(identity: PurchaserIdentity): string {
  const { name, id_type, id_number, phone } = identity;
  return JSON.stringify({ name, id_type, id_number, phone });
}

/**
 * Reads serialisePurchaser's JSON back (after decryption). Throws TypeError when it is not such an identity;
 * the message never contains the data.
 */
export function parsePurchaser(json: string): PurchaserIdentity {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new TypeError('The stored purchaser identity is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('The stored purchaser identity is not an object');
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort().join(',');
  if (
    keys !== 'id_number,id_type,name,phone' ||
    typeof record.name !== 'string' ||
    typeof record.id_number !== 'string' ||
    typeof record.phone !== 'string' ||
    !(PURCHASER_ID_TYPES as readonly unknown[]).includes(record.id_type)
  ) {
    throw new TypeError('The stored purchaser identity does not have the expected fields');
  }
  return {
    name: record.name,
    id_type: record.id_type as PurchaserIdType,
    id_number: record.id_number,
    phone: record.phone,
  };
}
