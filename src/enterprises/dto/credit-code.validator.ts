import type { TransformFnParams } from 'class-transformer';
import { buildMessage, ValidateBy, type ValidationOptions } from 'class-validator';
import { isWellFormedCreditCode, normaliseCreditCode } from '../credit-code';

/**
 * Structure only (length, alphabet, positions): a malformed code is a 400
 * validation error, while a well-formed code with a wrong check character is the
 * service's 422 invalid_credit_code.
 */
export function IsCreditCodeFormat(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isCreditCodeFormat',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && isWellFormedCreditCode(value),
        defaultMessage: buildMessage(
          (each) =>
            `${each}$property must be an 18-character unified social credit code (digits and capital letters except I, O, Z, S, V)`,
          options,
        ),
      },
    },
    options,
  );
}

/** For @Transform: trims and upper-cases strings, leaves anything else for the validators to refuse. */
export function normaliseCreditCodeInput({ value }: TransformFnParams): unknown {
  return typeof value === 'string' ? normaliseCreditCode(value) : value;
}
