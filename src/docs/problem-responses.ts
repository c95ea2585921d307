import { STATUS_CODES } from 'node:http';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { OperationObject, ParameterObject, ResponseObject } from './openapi-types';
import { ERROR_MESSAGES, interpolate, isErrorCode, type ErrorCode } from '../common/errors/messages';
import { PROBLEM_CONTENT_TYPE, problemType } from '../common/errors/problem';

const PROBLEM_REF = '#/components/schemas/Problem';
const EXAMPLE_REQUEST_ID = 'req_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';

/** Codes every operation of a status can answer, whatever its own description lists. */
const STATUS_CODES_ALWAYS: Partial<Record<number, ErrorCode[]>> = {
  401: ['invalid_token', 'missing_token', 'token_expired'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  429: ['rate_limited'],
};

/** What the body parsers and the validation pipe refuse before any handler (src/common/http, src/common/validation.ts). */
export const BODY_PARSER_CODES: readonly ErrorCode[] = ['malformed_json', 'forbidden_property', 'nesting_too_deep'];

/** The code of a status when its description names none. */
const STATUS_FALLBACK: Partial<Record<number, ErrorCode>> = {
  400: 'validation_failed',
  403: 'insufficient_scope',
  404: 'resource_not_found',
  409: 'conflict',
  410: 'gone',
  422: 'unprocessable_entity',
  503: 'service_unavailable',
};

/** Error codes named in a response description, in the order they appear. */
function codesIn(description: string | undefined): ErrorCode[] {
  const words: string[] = description?.match(/[a-z][a-z0-9]*(?:_[a-z0-9]+)+/g) ?? [];
  const codes: ErrorCode[] = words.filter((word): word is ErrorCode => isErrorCode(word));
  return [...new Set(codes)];
}

function isIdempotent(operation: OperationObject): boolean {
  return ((operation.parameters ?? []) as ParameterObject[]).some(
    (parameter) => parameter.in === 'header' && parameter.name.toLowerCase() === 'idempotency-key',
  );
}

/**
 * The codes to show for one response: its description's, the status's constant ones, the idempotency ones, and for a
 * method that takes a body, the parsers' codes (BODY_PARSER_CODES): any body sent is parsed, documented or not.
 */
function codesOf(
  status: number,
  response: ResponseObject,
  operation: OperationObject,
  takesBody: boolean,
): ErrorCode[] {
  const codes = [...codesIn(response.description)];
  if (isIdempotent(operation)) {
    if (status === 400) codes.push('invalid_idempotency_key');
    if (status === 409) codes.push('idempotency_key_in_use');
    if (status === 422) codes.push('idempotency_key_reused');
  }
  const fallback = STATUS_FALLBACK[status];
  if (fallback && !codes.some((code) => !code.startsWith('idempotency_') && code !== 'invalid_idempotency_key'))
    codes.unshift(fallback);
  codes.push(...(STATUS_CODES_ALWAYS[status] ?? []));
  if (status === 400 && takesBody) codes.push(...BODY_PARSER_CODES);
  return [...new Set(codes)];
}

/** An example problem body for `code`, with the catalog's English text (placeholders of unknown values dropped). */
export function exampleProblem(status: number, code: ErrorCode): Record<string, unknown> {
  const detail = interpolate(ERROR_MESSAGES[code].en, {})
    .replace(/\s*\{\w+\}/g, '')
    .trim();
  return {
    type: problemType(code),
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    request_id: EXAMPLE_REQUEST_ID,
    ...(status === 400 && code === 'validation_failed'
      ? {
          errors: [
            { field: 'name', message: 'name must be shorter than or equal to 200 characters', code: 'invalid_value' },
          ],
        }
      : {}),
  };
}

/**
 * Every problem response is served as `application/problem+json` (src/common/errors/problem.filter.ts): documented
 * so, each with one example per code it can carry (the codes its description names, else the status's usual one),
 * instead of one example of a 400 under every status.
 */
export function documentProblemResponses(document: OpenAPIObject): void {
  const components = (document.components ??= {});
  const shared = (components.examples ??= {});
  for (const item of Object.values(document.paths)) {
    for (const [operation, takesBody] of [
      [item.get, false],
      [item.post, true],
      [item.put, true],
      [item.patch, true],
      [item.delete, false],
    ] as const) {
      if (!operation) continue;
      for (const [statusText, response] of Object.entries(operation.responses) as [string, ResponseObject][]) {
        const status = Number(statusText);
        if (!(status >= 400) || !response.content) continue;
        const isProblem = (type: string) => {
          const schema = response.content?.[type]?.schema;
          return schema !== undefined && '$ref' in schema && schema.$ref === PROBLEM_REF;
        };
        const type = ['application/json', PROBLEM_CONTENT_TYPE].find(isProblem);
        if (!type) continue;
        // Examples set where the response was added (a parser's problem beside another format) stay as they are.
        if (response.content[type].examples) {
          for (const [code, example] of Object.entries(response.content[type].examples ?? {})) {
            const name = `${status}_${code}`;
            if (isErrorCode(code) && '$ref' in example)
              shared[name] ??= { summary: code, value: exampleProblem(status, code) };
          }
          continue;
        }
        // Shared in components.examples: hundreds of responses show the same few dozen problems.
        const examples = Object.fromEntries(
          codesOf(status, response, operation, takesBody).map((code) => {
            const name = `${status}_${code}`;
            shared[name] ??= { summary: code, value: exampleProblem(status, code) };
            return [code, { $ref: `#/components/examples/${name}` }];
          }),
        );
        // Another format beside it (the token endpoint's RFC 6749 errors) stays.
        delete response.content[type];
        response.content[PROBLEM_CONTENT_TYPE] = { schema: { $ref: PROBLEM_REF }, examples };
      }
    }
  }
}
