import type { TransformFnParams } from 'class-transformer';
import type { CardType } from '../product.entity';

export const CARD_TYPES = ['anonymous', 'registered'] as const satisfies readonly CardType[];

/** Face values on offer: 50 to 5,000 CNY per card, in fen (the card-type limits of §7 may lower the top). */
export const MIN_FACE_VALUE = 5_000;
export const MAX_FACE_VALUE = 500_000;
export const MAX_FACE_VALUES = 20;

/** 100 years: anything longer is a typo for "no expiry" (null). */
export const MAX_VALIDITY_MONTHS = 1_200;

/** Design codes: lower-case letters, digits, _ and -, starting with a letter (`classic`, `spring_festival`). */
export const DESIGN_CODE = /^[a-z][a-z0-9_-]{0,39}$/;
export const DESIGN_CODE_MESSAGE =
  'each of designs must be a design code: a lower-case letter, then up to 39 lower-case letters, digits, _ or -';
export const MAX_DESIGNS = 20;

export const NAME_MAX = 200;
export const DESCRIPTION_MAX = 2_000;

/** Query strings carry text: 'true' and 'false' become booleans, anything else is left for IsBoolean to refuse. */
export function queryBoolean({ value }: TransformFnParams): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

/** Face values are stored ascending. */
export function ascending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}
