import { IsInt, Max, MaxLength, Min, type ValidationArguments, type ValidationOptions } from 'class-validator';

/**
 * Machine-readable codes of request-field faults, as `errors[].code` of a 400
 * problem. A constraint names its code through class-validator's `context`
 * option (`@Min(1, withCode('invalid_quantity'))`); the global ValidationPipe
 * reads it back from ValidationError.contexts. A problem whose every field error
 * carries the same specific code takes that code at the top level as well; any
 * generic code keeps the top level at `validation_failed`.
 */
export const FIELD_CODES = {
  /** A property the DTO does not declare (whitelist). Generic. */
  unknownField: 'unknown_field',
  /** Any other fault of a constraint that names no code. Generic. */
  invalidValue: 'invalid_value',
  /** A line quantity that is not a whole number from 1 to the per-line limit. */
  invalidQuantity: 'invalid_quantity',
  /** A money amount (fen) that is not a whole number within its range: 0, negative, fractional, too large. */
  invalidAmount: 'invalid_amount',
  /** A greeting longer than the limit. */
  greetingTooLong: 'greeting_too_long',
} as const;

export type FieldCode = (typeof FIELD_CODES)[keyof typeof FIELD_CODES];

/** Codes that describe no fault in particular: they never replace `validation_failed` at the top level. */
export const GENERIC_FIELD_CODES: ReadonlySet<string> = new Set([FIELD_CODES.unknownField, FIELD_CODES.invalidValue]);

/** The context under which a constraint carries its field code, and the values its message names (limits). */
export interface FieldCodeContext {
  code: string;
  params?: Record<string, string | number>;
}

/**
 * Validation options that tag a constraint with a field code (and, optionally, a message). `params`: the values the
 * code's message names in other languages (src/common/errors/messages.ts), e.g. `{ min, max }`.
 */
export function withCode(
  code: FieldCode,
  options: Omit<ValidationOptions, 'context'> = {},
  params?: Record<string, string | number>,
): ValidationOptions & { context: FieldCodeContext } {
  return { ...options, context: params ? { code, params } : { code } };
}

const grouped = (value: number) => value.toLocaleString('en-US');

function combine(...decorators: PropertyDecorator[]): PropertyDecorator {
  return (target, key) => decorators.forEach((decorator) => decorator(target, key));
}

function subject(args: ValidationArguments, each: boolean): string {
  return each ? `each value in ${args.property}` : args.property;
}

/**
 * A money amount in fen: a whole number from `min` (default 1) to `max`
 * (default the largest safe integer). Every fault (missing, not a number,
 * fractional, below, above) is `invalid_amount` with one message.
 */
export function IsFenAmount(options: { min?: number; max?: number; each?: boolean } = {}): PropertyDecorator {
  const min = options.min ?? 1;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const each = options.each ?? false;
  const range =
    max === Number.MAX_SAFE_INTEGER ? `of at least ${grouped(min)}` : `from ${grouped(min)} to ${grouped(max)}`;
  const tagged = withCode(
    FIELD_CODES.invalidAmount,
    {
      each,
      message: (args: ValidationArguments) => `${subject(args, each)} must be a whole number of fen ${range}`,
    },
    max === Number.MAX_SAFE_INTEGER ? {} : { min: grouped(min), max: grouped(max) },
  );
  return combine(IsInt(tagged), Min(min, tagged), Max(max, tagged));
}

/** A line quantity: a whole number from 1 to `max`; every fault is `invalid_quantity`. */
export function IsQuantity(max: number): PropertyDecorator {
  const tagged = withCode(
    FIELD_CODES.invalidQuantity,
    { message: (args: ValidationArguments) => `${args.property} must be a whole number from 1 to ${grouped(max)}` },
    { max: grouped(max) },
  );
  return combine(IsInt(tagged), Min(1, tagged), Max(max, tagged));
}

/** A greeting of at most `max` characters; longer is `greeting_too_long`. */
export function GreetingMaxLength(max: number): PropertyDecorator {
  return MaxLength(
    max,
    withCode(
      FIELD_CODES.greetingTooLong,
      { message: (args: ValidationArguments) => `${args.property} must be at most ${grouped(max)} characters` },
      { max: grouped(max) },
    ),
  );
}
