import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { ApiError } from '../errors/api-error';

/** The one route that takes a form body: OAuth clients send `application/x-www-form-urlencoded` (RFC 6749 §4.4.2). */
export const FORM_ROUTES: ReadonlySet<string> = new Set(['/v1/oauth/token']);

/**
 * Routes that take a file as the raw body (the uploader's content type, a `filename` query parameter), by their
 * content types: the body reaches the handler as the request stream, parsed as it arrives (the handler enforces its
 * own size limit). Anywhere else these types are 415.
 */
export const UPLOAD_ROUTES: ReadonlyMap<string, readonly string[]> = new Map([
  ['/v1/distribution-files', ['text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet']],
  ['/v1/reconciliations', ['text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet']],
]);

/** `__proto__` keys and `constructor.prototype` objects are refused, not silently dropped. */
const POISONING = { protoAction: 'error', constructorAction: 'error' } as const;

const forbidden = () =>
  ApiError.badRequest(
    'forbidden_property',
    'The request body contains a forbidden property name (__proto__, or constructor.prototype)',
  );

/** Valid JSON that secure-json-parse refuses is poisoning; anything else it refuses is not JSON at all. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw ApiError.badRequest('malformed_json', 'The request body is empty');
  const text = body.toString('utf8');
  try {
    return secureJson.parse(text, undefined, POISONING);
  } catch {
    try {
      JSON.parse(text);
    } catch {
      throw ApiError.badRequest('malformed_json', 'The request body is not valid JSON');
    }
    throw forbidden();
  }
}

/** A form body as fields; a field given twice becomes an array, which the route's validation refuses. */
export function parseFormBody(body: Buffer): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
    if (name === '__proto__') throw forbidden();
    const seen = Object.hasOwn(fields, name) ? fields[name] : undefined;
    fields[name] = seen === undefined ? value : [seen, value].flat();
  }
  return fields;
}

function unsupportedMediaType(): ApiError {
  return new ApiError(415, 'unsupported_media_type', 'Send the body as application/json');
}

/**
 * JSON everywhere and a form on the token endpoint, nothing else: Fastify's built-in text/plain parser would hand
 * a string to the validation pipe (a 400 listing every field instead of a 415), and Nest's form parser would
 * accept forms on every route. The parsers replace Nest's defaults because it skips types registered here.
 */
export function registerBodyParsers(app: NestFastifyApplication, bodyLimit: number): void {
  app.getHttpAdapter().getInstance().removeContentTypeParser('text/plain');
  app.useBodyParser('application/json', { bodyLimit }, (_request: FastifyRequest, body: Buffer) =>
    Promise.resolve(parseJsonBody(body)),
  );
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit }, (request: FastifyRequest, body: Buffer) => {
    if (!FORM_ROUTES.has(request.routeOptions.url ?? '')) throw unsupportedMediaType();
    return Promise.resolve(parseFormBody(body));
  });
  const uploadTypes = [...new Set([...UPLOAD_ROUTES.values()].flat())];
  app
    .getHttpAdapter()
    .getInstance()
    .addContentTypeParser(uploadTypes, (request, payload, done) => {
      if (!UPLOAD_ROUTES.has(request.routeOptions.url ?? '')) return done(unsupportedMediaType(), undefined);
      done(null, payload);
    });
}
