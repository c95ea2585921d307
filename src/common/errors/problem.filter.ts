import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './api-error';
import {
  isErrorCode,
  languageOf,
  messageOf,
  OBJECT_NAMES_ZH,
  type ErrorCode,
  type Language,
  type MessageParams,
} from './messages';
import { DEFAULT_CODES, Problem, PROBLEM_CONTENT_TYPE } from './problem';

interface Rendered {
  status: number;
  code: ErrorCode;
  detail: string;
  extra?: Record<string, unknown>;
  headers?: Record<string, string>;
  contentType?: string;
}

/** Fastify's own errors (body parsing, limits) mapped to this API's codes. */
const FASTIFY_CODES: Record<string, { status: number; code: ErrorCode; detail: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'malformed_json', detail: 'The request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'malformed_json', detail: 'The request body is empty' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', detail: 'The request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    detail: 'Send the body as application/json',
  },
  // The router's own refusals, before any route runs (see frameworkErrors in src/bootstrap.ts).
  FST_ERR_BAD_URL: { status: 400, code: 'malformed_url', detail: 'The URL is not valid percent-encoded UTF-8' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'uri_too_long', detail: 'A path parameter is too long' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'bad_request',
    detail: 'Content-Length does not match the body',
  },
};

/**
 * The problem of `error` in `language`. English: the error's own detail (an ApiError's is written where it is
 * thrown). Other languages: the catalog's text of its code (messages.ts) with the error's values, and each listed
 * error (`errors[]` of a 400 or of a row check) by its own code.
 */
export function renderError(error: unknown, language: Language = 'en'): Rendered {
  const rendered = renderEnglish(error);
  if (language === 'en') return rendered;
  if (!(error instanceof ApiError)) return { ...rendered, detail: messageOf(rendered.code, language) };
  const fields = error.fieldErrors;
  const detail =
    fields.length === 1
      ? messageOf(fields[0].code ?? 'invalid_value', language, { field: fields[0].field, ...fields[0].params })
      : messageOf(error.code, language, translatedParams(error.params, language));
  const listed = error.extra.errors;
  if (!Array.isArray(listed)) return { ...rendered, detail };
  const errors = listed.map((entry: Record<string, unknown>, index) => {
    const code = typeof entry.code === 'string' && isErrorCode(entry.code) ? entry.code : null;
    if (!code) return entry;
    const params = { ...(typeof entry.field === 'string' ? { field: entry.field } : {}), ...fields[index]?.params };
    return { ...entry, message: messageOf(code, language, params) };
  });
  return { ...rendered, detail, extra: { ...error.extra, errors } };
}

/** A 404's object name in the reader's language. */
function translatedParams(params: MessageParams, language: Language): MessageParams {
  if (language !== 'zh-CN' || typeof params.object !== 'string') return params;
  return { ...params, object: OBJECT_NAMES_ZH[params.object] ?? params.object };
}

function renderEnglish(error: unknown): Rendered {
  if (error instanceof ApiError) {
    return {
      status: error.getStatus(),
      code: error.code,
      detail: error.detail,
      extra: error.extra,
      headers: error.headers,
      contentType: error.contentType,
    };
  }
  if (error instanceof ThrottlerException) {
    return { status: 429, code: 'rate_limited', detail: 'Too many requests; retry after the time in Retry-After' };
  }
  const fastifyCode = (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code;
  if (typeof fastifyCode === 'string' && FASTIFY_CODES[fastifyCode]) return FASTIFY_CODES[fastifyCode];
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    const message =
      typeof response === 'object' && response !== null && 'message' in response ? response.message : error.message;
    const detail =
      status >= 500 ? 'An internal error occurred' : Array.isArray(message) ? message.join('; ') : String(message);
    return { status, code: DEFAULT_CODES[status] ?? 'error', detail };
  }
  const statusCode = (error as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { status: statusCode, code: DEFAULT_CODES[statusCode] ?? 'bad_request', detail: 'The request is invalid' };
  }
  return { status: 500, code: 'internal_error', detail: 'An internal error occurred' };
}

/**
 * Writes a problem+json response in the language of the request's Accept-Language (English by default). Nest hands
 * Fastify's own errors (body parsing, limits) to the filter too.
 */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown, logger: Logger): void {
  const language = languageOf(request.headers['accept-language']);
  const rendered = renderError(error, language);
  if (rendered.status >= 500) logger.error({ err: error, reqId: request.id }, 'request failed');
  void reply
    .status(rendered.status)
    .headers(rendered.headers ?? {})
    .header('content-type', rendered.contentType ?? PROBLEM_CONTENT_TYPE)
    .header('content-language', language)
    .header('vary', 'Accept-Language')
    .send(Problem.of(rendered.status, rendered.code, rendered.detail, String(request.id), rendered.extra, language));
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>(), error, this.logger);
  }
}
