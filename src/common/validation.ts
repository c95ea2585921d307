import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { ApiError, type FieldError } from './errors/api-error';
import { isErrorCode, type ErrorCode, type MessageParams } from './errors/messages';
import { FIELD_CODES, type FieldCodeContext } from './validation-codes';

/** The code a failed constraint names in its `context`, else the generic one for its kind. */
function codeOf(error: ValidationError, constraint: string): ErrorCode {
  const code: unknown = (error.contexts?.[constraint] as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && isErrorCode(code)) return code;
  return constraint === 'whitelistValidation' ? FIELD_CODES.unknownField : FIELD_CODES.invalidValue;
}

/** The values (limits) a failed constraint's `context` gives its message in other languages. */
function paramsOf(error: ValidationError, constraint: string): MessageParams | undefined {
  return (error.contexts?.[constraint] as Partial<FieldCodeContext> | undefined)?.params;
}

/** One entry per field and distinct (message, code): a value failing IsInt, Min and Max of one rule is listed once. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = new Map<string, FieldError>();
    for (const [constraint, text] of Object.entries(error.constraints ?? {})) {
      // class-validator's whitelist message names the property already.
      const message = constraint === 'whitelistValidation' ? `unknown field '${field}'` : text;
      const code = codeOf(error, constraint);
      own.set(`${code}\n${message}`, { field, message, code, params: paramsOf(error, constraint) });
    }
    return [...own.values(), ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/**
 * Deepest nesting of objects and arrays a request body may have. class-transformer recurses once per level, so a
 * body nested thousands deep (a few kilobytes of brackets) would exhaust the stack: a 500 instead of a 400.
 */
export const MAX_BODY_DEPTH = 32;

/** Whether `value` nests objects or arrays deeper than `limit`; iterative, so no depth can overflow it. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [current, depth] = next;
    if (current === null || typeof current !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

/** Refuses bodies nested deeper than MAX_BODY_DEPTH before class-transformer walks them. */
class DepthLimitedValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && nestedDeeperThan(value, MAX_BODY_DEPTH)) {
      throw ApiError.badRequest(
        'nesting_too_deep',
        `The request body nests objects or arrays deeper than ${MAX_BODY_DEPTH} levels`,
      );
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }
}

/** DTO validation: unknown fields are refused, types converted, every failure listed by field with its code. */
export function createValidationPipe(): ValidationPipe {
  return new DepthLimitedValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => ApiError.validation(flattenValidationErrors(errors)),
  });
}
