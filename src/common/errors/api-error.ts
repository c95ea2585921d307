import { HttpException, HttpStatus } from '@nestjs/common';
import { FIELD_CODES, GENERIC_FIELD_CODES } from '../validation-codes';
import type { ErrorCode, MessageParams } from './messages';

export interface FieldError {
  field: string;
  /** The English message (the response's `errors[].message` for English readers). */
  message: string;
  /** Machine-readable; `invalid_value` when not given. */
  code?: ErrorCode;
  /** Values of the message in other languages (messages.ts), besides `field`: e.g. `min`, `max`. */
  params?: MessageParams;
}

/** Scalar extension members, as values a translated detail may name (`order_id`, `serial`, `retry_after`, …). */
function scalarsOf(extra: Record<string, unknown>): Record<string, string | number> {
  const scalars: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(extra)) {
    if (typeof value === 'string' || typeof value === 'number') scalars[name] = value;
  }
  return scalars;
}

/**
 * An error the API means to return: HTTP status, a stable machine-readable code
 * and a human detail. Rendered as RFC 9457 problem+json by ProblemFilter.
 */
export class ApiError extends HttpException {
  /** problem+json everywhere but the OAuth token endpoint, whose RFC asks for plain JSON. */
  readonly contentType: string = 'application/problem+json';

  /** Values a translated detail may name: the scalar extension members, and what a helper adds. */
  readonly params: MessageParams;
  /** A 400's field errors with their values (the response lists them without `params`). */
  fieldErrors: FieldError[] = [];

  constructor(
    status: number,
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
    params: MessageParams = {},
  ) {
    super(detail, status);
    this.params = { ...scalarsOf(extra), ...params };
  }

  static badRequest(code: ErrorCode, detail: string, extra?: Record<string, unknown>): ApiError {
    return new ApiError(HttpStatus.BAD_REQUEST, code, detail, extra);
  }

  /**
   * 400 listing every faulty field with its code. The top-level code is the
   * fields' code when they all share one specific code (`invalid_quantity`,
   * `invalid_amount`, ...), else `validation_failed`.
   */
  static validation(errors: FieldError[]): ApiError {
    const coded = errors.map((error) => ({ ...error, code: error.code ?? FIELD_CODES.invalidValue }));
    const listed = coded.map(({ field, message, code }) => ({ field, message, code }));
    const detail = listed.length === 1 ? listed[0].message : `${listed.length} fields are invalid`;
    const codes = new Set(listed.map((error) => error.code));
    const [only] = codes;
    const code = codes.size === 1 && !GENERIC_FIELD_CODES.has(only) ? only : 'validation_failed';
    const error = new ApiError(HttpStatus.BAD_REQUEST, code, detail, { errors: listed }, {}, { count: listed.length });
    error.fieldErrors = coded;
    return error;
  }

  static unauthorized(code: ErrorCode, detail: string): ApiError {
    return new ApiError(HttpStatus.UNAUTHORIZED, code, detail, {}, { 'www-authenticate': 'Bearer' });
  }

  static forbidden(code: ErrorCode, detail: string): ApiError {
    return new ApiError(HttpStatus.FORBIDDEN, code, detail);
  }

  /** The same answer whether the object does not exist or belongs to another tenant. */
  static notFound(objectType: string, id: string): ApiError {
    return new ApiError(
      HttpStatus.NOT_FOUND,
      'resource_not_found',
      `No ${objectType} with id '${id}'`,
      {},
      {},
      {
        object: objectType,
        id,
      },
    );
  }

  static conflict(code: ErrorCode, detail: string, extra?: Record<string, unknown>): ApiError {
    return new ApiError(HttpStatus.CONFLICT, code, detail, extra);
  }

  /** RFC 6749 §5.2 token-endpoint error, carrying the problem fields as well. */
  static oauth(
    status: 400 | 401,
    error: 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope',
    description: string,
    headers: Record<string, string> = {},
  ): ApiError {
    const apiError = new ApiError(
      status,
      error,
      description,
      { error, error_description: description },
      {
        'cache-control': 'no-store',
        ...headers,
      },
    );
    (apiError as { contentType: string }).contentType = 'application/json';
    return apiError;
  }

  static unprocessable(code: ErrorCode, detail: string, extra?: Record<string, unknown>): ApiError {
    return new ApiError(HttpStatus.UNPROCESSABLE_ENTITY, code, detail, extra);
  }
}
