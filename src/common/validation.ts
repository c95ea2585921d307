import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApiError, type FieldError } from './errors/api-error';
import { FIELD_CODES } from './validation-codes';

/** The code a failed constraint names in its `context`, else the generic one for its kind. */
function codeOf(error: ValidationError, constraint: string): string {
  const code: unknown = (error.contexts?.[constraint] as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return constraint === 'whitelistValidation' ? FIELD_CODES.unknownField : FIELD_CODES.invalidValue;
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
      own.set(`${code}\n${message}`, { field, message, code });
    }
    return [...own.values(), ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/** DTO validation: unknown fields are refused, types converted, every failure listed by field with its code. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => ApiError.validation(flattenValidationErrors(errors)),
  });
}
