import { HttpException, HttpStatus } from '@nestjs/common';
import { FIELD_CODES, GENERIC_FIELD_CODES } from '../validation-codes';

export interface FieldError {
  field: string;
  message: string;
  /** Machine-readable; `invalid_value` when not given. */
  code?: string;
}

/**
 * An error the API means to return: HTTP status, a stable machine-readable code
 * and a human detail. Rendered as RFC 9457 problem+json by ProblemFilter.
 */
export class ApiError extends HttpException {
  /** problem+json everywhere but the OAuth token endpoint, whose RFC asks for plain JSON. */
  readonly contentType: string = 'application/problem+json';

  constructor(
    status: number,
    readonly code: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail, status);
  }

  static badRequest(code: string, detail: string, extra?: Record<string, unknown>): ApiError {
    return new ApiError(HttpStatus.BAD_REQUEST, code, detail, extra);
  }

  /**
   * 400 listing every faulty field with its code. The top-level code is the
   * fields' code when they all share one specific code (`invalid_quantity`,
   * `invalid_amount`, ...), else `validation_failed`.
   */
  static validation(errors: FieldError[]): ApiError {
    const listed = errors.map(({ field, message, code }) => ({
      field,
      message,
      code: code ?? FIELD_CODES.invalidValue,
    }));
    const detail = listed.length === 1 ? listed[0].message : `${listed.length} fields are invalid`;
    const codes = new Set(listed.map((error) => error.code));
    const [only] = codes;
    const code = codes.size === 1 && !GENERIC_FIELD_CODES.has(only) ? only : 'validation_failed';
    return new ApiError(HttpStatus.BAD_REQUEST, code, detail, { errors: listed });
  }

  static unauthorized(code: string, detail: string): ApiError {
    return new ApiError(HttpStatus.UNAUTHORIZED, code, detail, {}, { 'www-authenticate': 'Bearer' });
  }

  static forbidden(code: string, detail: string): ApiError {
    return new ApiError(HttpStatus.FORBIDDEN, code, detail);
  }

  /** The same answer whether the object does not exist or belongs to another tenant. */
  static notFound(objectType: string, id: string): ApiError {
    return new ApiError(HttpStatus.NOT_FOUND, 'resource_not_found', `No ${objectType} with id '${id}'`);
  }

  static conflict(code: string, detail: string, extra?: Record<string, unknown>): ApiError {
    return new ApiError(HttpStatus.CONFLICT, code, detail, extra);
  }

  /** RFC 6749 §5.2 token-endpoint error, carrying the problem fields as well. */
  static oauth(status: 400 | 401, error: string, description: string, headers: Record<string, string> = {}): ApiError {
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

  static unprocessable(code: string, detail: string, extra?: Record<string, unknown>): ApiError {
    return new ApiError(HttpStatus.UNPROCESSABLE_ENTITY, code, detail, extra);
  }
}
