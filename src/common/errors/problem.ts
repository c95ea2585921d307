import { STATUS_CODES } from 'node:http';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { STATUS_TITLES_ZH, type ErrorCode, type Language } from './messages';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Default codes for errors that carry no code of their own. */
export const DEFAULT_CODES: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'resource_not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  409: 'conflict',
  410: 'gone',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'rate_limited',
  500: 'internal_error',
  503: 'service_unavailable',
};

export function problemType(code: string): string {
  return `urn:fuli:problem:${code}`;
}

export class ProblemFieldError {
  @ApiProperty({ example: 'name' })
  field: string;

  @ApiProperty({ example: 'name must be shorter than or equal to 200 characters' })
  message: string;

  @ApiProperty({
    description:
      'Machine-readable fault of this field: invalid_quantity, invalid_amount, greeting_too_long; otherwise invalid_value, or unknown_field for a field the request may not carry',
    example: 'invalid_value',
  })
  code: string;
}

/** RFC 9457 problem details, as every error of this API is returned. */
export class Problem {
  @ApiProperty({ example: 'urn:fuli:problem:validation_failed' })
  type: string;

  @ApiProperty({ example: 'Bad Request' })
  title: string;

  @ApiProperty({ example: 400 })
  status: number;

  @ApiProperty({ example: 'name must be shorter than or equal to 200 characters' })
  detail: string;

  @ApiProperty({
    description:
      "Stable machine-readable error code. For a 400 listing errors: the fields' code when all of them share one specific code (e.g. invalid_quantity, invalid_amount), else validation_failed",
    example: 'validation_failed',
  })
  code: string;

  @ApiProperty({ example: 'req_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  request_id: string;

  @ApiPropertyOptional({ type: [ProblemFieldError] })
  errors?: ProblemFieldError[];

  static of(
    status: number,
    code: string,
    detail: string,
    requestId: string,
    extra: Record<string, unknown> = {},
    language: Language = 'en',
  ) {
    const english = STATUS_CODES[status] ?? 'Error';
    // Extension members first: RFC 9457's own members (and ours) always win over an extension of the same name.
    return {
      ...extra,
      type: problemType(code),
      title: language === 'zh-CN' ? (STATUS_TITLES_ZH[status] ?? english) : english,
      status,
      detail,
      code,
      request_id: requestId,
    };
  }
}
