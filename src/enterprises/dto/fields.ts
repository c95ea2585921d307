import type { TransformFnParams } from 'class-transformer';
import { ValidateIf } from 'class-validator';

/** Trims strings; an empty optional text means "none". */
export function trimToNull({ value }: TransformFnParams): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

export function trim({ value }: TransformFnParams): unknown {
  return typeof value === 'string' ? value.trim() : value;
}

/**
 * May be left out, but not sent as null: for PATCH fields whose column is NOT NULL
 * (IsOptional would let null through to the database).
 */
export function OmittableNotNull(): PropertyDecorator {
  return ValidateIf((_object: unknown, value: unknown) => value !== undefined);
}

export const ENTERPRISE_STATUSES = ['active', 'suspended'] as const;

export const PHONE_PATTERN = /^\+?[0-9][0-9 ()-]{2,30}$/;
export const BANK_ACCOUNT_PATTERN = /^[0-9][0-9 -]{3,39}$/;
export const MAX_FEN = Number.MAX_SAFE_INTEGER;
