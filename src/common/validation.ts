import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApiError, type FieldError } from './errors/api-error';

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) =>
      // class-validator's whitelist message names the property already.
      ({ field, message: message.startsWith('property ') ? `unknown field '${field}'` : message }),
    );
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** DTO validation: unknown fields are refused, types converted, every failure listed by field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => ApiError.validation(flatten(errors)),
  });
}
