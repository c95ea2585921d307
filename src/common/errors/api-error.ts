import { HttpException, HttpStatus } from '@nestjs/common';

export interface FieldError {
  field: string;
  message: string;
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

  static validation(errors: FieldError[]): ApiError {
    const detail = errors.length === 1 ? errors[0].message : `${errors.length} fields are invalid`;
    return new ApiError(HttpStatus.BAD_REQUEST, 'validation_failed', detail, { errors });
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
