import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The committed OpenAPI document: the contract suites walk it, so a new operation is covered the day it lands. */
export interface Schema {
  type?: string;
  format?: string;
  $ref?: string;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  nullable?: boolean;
  maxLength?: number;
  maximum?: number;
}

interface RawParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}

interface RawOperation {
  operationId: string;
  security?: Array<Record<string, string[]>>;
  parameters?: RawParameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, unknown> }>;
}

interface Document {
  paths: Record<string, Record<string, RawOperation>>;
  components: { schemas: Record<string, Schema> };
}

export interface Operation {
  id: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** As in the document: `/v1/orders/{id}`. */
  path: string;
  /** No security requirement (absent or `[]`). */
  isPublic: boolean;
  /** Takes an Idempotency-Key header. */
  idempotent: boolean;
  pathParams: string[];
  queryParams: Array<{ name: string; schema: Schema }>;
  /** The JSON request body's schema, resolved, if the operation takes one. */
  body?: Schema;
  /** Media types of the request body. */
  bodyTypes: string[];
  /** The documented success status (the lowest 2xx). */
  success: number;
  /** Media types documented per response status. */
  responseTypes: Record<string, string[]>;
}

export const document = JSON.parse(
  readFileSync(join(__dirname, '..', '..', '..', 'openapi', 'openapi.json'), 'utf8'),
) as Document;

/** A schema with its $ref (or a single allOf wrapping one) followed. */
export function resolve(schema: Schema | undefined): Schema {
  let current = schema ?? {};
  for (let depth = 0; depth < 10; depth++) {
    if (current.$ref) current = document.components.schemas[current.$ref.split('/').pop()!] ?? {};
    else if (current.allOf?.length === 1) current = current.allOf[0];
    else break;
  }
  return current;
}

export function operations(): Operation[] {
  const all: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      const parameters = raw.parameters ?? [];
      const json = raw.requestBody?.content['application/json'];
      const successes = Object.keys(raw.responses)
        .map(Number)
        .filter((status) => status >= 200 && status < 300)
        .sort((a, b) => a - b);
      all.push({
        id: raw.operationId,
        method: method as Operation['method'],
        path,
        isPublic: !raw.security || raw.security.length === 0,
        idempotent: parameters.some((parameter) => parameter.in === 'header' && parameter.name === 'Idempotency-Key'),
        pathParams: parameters.filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name),
        queryParams: parameters
          .filter((parameter) => parameter.in === 'query')
          .map((parameter) => ({ name: parameter.name, schema: resolve(parameter.schema) })),
        body: json ? resolve(json.schema) : undefined,
        bodyTypes: Object.keys(raw.requestBody?.content ?? {}),
        success: successes[0] ?? 200,
        responseTypes: Object.fromEntries(
          Object.entries(raw.responses).map(([status, response]) => [status, Object.keys(response.content ?? {})]),
        ),
      });
    }
  }
  return all.sort((a, b) => a.id.localeCompare(b.id));
}

/** `/v1/orders/{id}` with `{ id: 'ord_…' }` → `/v1/orders/ord_…` (each value percent-encoded, unless `raw`). */
export function fillPath(operation: Operation, params: Record<string, string> = {}, raw = false): string {
  return operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`${operation.id}: no value for path parameter ${name}`);
    return raw ? value : encodeURIComponent(value);
  });
}
