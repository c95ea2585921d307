import type { Response } from 'supertest';
import type { Operation } from './openapi';

/**
 * What an error must look like: problem+json (or the media type the operation documents for that status: the
 * token endpoint's RFC 6749 errors are application/json) with the HTTP status, a machine-readable code and the
 * request id. Null when the response is fine.
 */
export function problemFault(response: Response, operation?: Operation): string | null {
  if (response.status >= 500) return `${response.status} ${JSON.stringify(response.body)}`;
  if (response.status < 400) return null;
  const type = String(response.headers['content-type'] ?? '').split(';')[0];
  const documented = operation?.responseTypes[String(response.status)] ?? [];
  if (type !== 'application/problem+json' && !documented.includes(type)) {
    return `${response.status} answered as '${type}'`;
  }
  const body = response.body as { status?: unknown; code?: unknown; request_id?: unknown };
  if (body.status !== response.status) return `${response.status} whose body says status ${String(body.status)}`;
  if (typeof body.code !== 'string' || body.code === '') return `${response.status} without a code`;
  if (typeof body.request_id !== 'string' || body.request_id === '') return `${response.status} without a request_id`;
  return null;
}

export function expectProblem(response: Response, operation?: Operation): void {
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(problemFault(response, operation)).toBeNull();
}
