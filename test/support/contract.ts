/**
 * The contract between the server and openapi/openapi.json: every response an e2e test app sends is checked as it
 * is sent (a Fastify onSend hook, added by startTestApp) and the faults are reported when the app closes — its status
 * documented for the operation, its media type listed, its JSON body valid against the documented schema, and a
 * problem's `code` one of those the operation documents for that status. The committed document is
 * the one checked: `npm run openapi:check` keeps it equal to what the code generates.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Ajv, { type ValidateFunction } from 'ajv';
import { repoRoot } from '../../scripts/paths';

export interface ObservedResponse {
  method: string;
  /** Fastify's route pattern (`/v1/orders/:id`); undefined when no route matched. */
  route: string | undefined;
  status: number;
  contentType: string | undefined;
  /** The body when it was sent whole (streams are not read). */
  body: string | undefined;
}

type Schema = Record<string, unknown>;
interface Media {
  schema?: Schema;
  /** Problem responses: one example per error code the operation answers with that status, keyed by the code. */
  examples?: Record<string, unknown>;
}
interface Response {
  content?: Record<string, Media>;
}
interface Operation {
  responses: Record<string, Response>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const DOCUMENT_ID = 'openapi';

/** OpenAPI 3.0's `nullable` as JSON Schema says it: `null` is one more type (and enum value). */
function jsonSchemaOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonSchemaOf);
  if (typeof value !== 'object' || value === null) return value;
  const schema = Object.fromEntries(Object.entries(value).map(([key, child]) => [key, jsonSchemaOf(child)]));
  if (schema.nullable === true) {
    delete schema.nullable;
    if (typeof schema.type === 'string') schema.type = [schema.type, 'null'];
    if (Array.isArray(schema.enum)) schema.enum = [...(schema.enum as unknown[]), null];
    if (schema.$ref || schema.allOf || schema.oneOf || schema.anyOf) {
      const { description, ...rest } = schema;
      return { description, anyOf: [rest, { type: 'null' }] };
    }
  }
  return schema;
}

class Contract {
  private readonly ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: Document) {
    this.ajv.addSchema({ components: jsonSchemaOf(document.components) }, DOCUMENT_ID);
  }

  private validator(pointer: string, schema: Schema): ValidateFunction {
    let validate = this.validators.get(pointer);
    if (!validate) {
      // Refs point into the document's components, registered once under DOCUMENT_ID.
      const rebased = JSON.parse(
        JSON.stringify(jsonSchemaOf(schema)).replaceAll('"#/components/', `"${DOCUMENT_ID}#/components/`),
      ) as Schema;
      validate = this.ajv.compile(rebased);
      this.validators.set(pointer, validate);
    }
    return validate;
  }

  violation(observed: ObservedResponse): string | undefined {
    if (!observed.route || observed.method === 'HEAD' || observed.method === 'OPTIONS') return undefined;
    const path = observed.route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const operation = this.document.paths[path]?.[observed.method.toLowerCase()];
    // Routes left out of the document on purpose (pages, /docs itself): openapi.ts checks which those are.
    if (!operation) return undefined;
    const where = `${observed.method} ${path} → ${observed.status}`;
    const status = String(observed.status);
    const response =
      operation.responses[status] ?? operation.responses[`${status[0]}XX`] ?? operation.responses.default;
    if (!response)
      return `${where}: status not documented (documented: ${Object.keys(operation.responses).join(', ')})`;
    if (!response.content || observed.body === undefined || observed.body === '') return undefined;
    const mediaType = observed.contentType?.split(';')[0].trim().toLowerCase();
    const key = Object.keys(response.content).find((listed) => listed.split(';')[0].trim().toLowerCase() === mediaType);
    if (!key) return `${where}: media type ${mediaType} not documented (${Object.keys(response.content).join(', ')})`;
    const schema = response.content[key].schema;
    if (!schema || !/json/.test(key)) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(observed.body);
    } catch {
      return `${where}: body is not JSON`;
    }
    const validate = this.validator(`${path} ${observed.method} ${status} ${key}`, schema);
    if (validate(body)) {
      // A problem's code must be one the operation documents for that status (the examples name them all).
      const examples = response.content[key].examples;
      const code = (body as { code?: unknown }).code;
      if (key === 'application/problem+json' && examples && typeof code === 'string' && !(code in examples))
        return `${where}: code ${code} not documented (documented: ${Object.keys(examples).join(', ')})`;
      return undefined;
    }
    const errors = (validate.errors ?? [])
      .slice(0, 3)
      .map((error) => `${error.instancePath || '/'} ${error.message ?? ''}`)
      .join('; ');
    return `${where}: body does not match the schema: ${errors}; body ${observed.body.slice(0, 300)}`;
  }
}

let contract: Contract | undefined;

function loadContract(): Contract {
  // From the repository's root: the benchmarks run this file compiled, from dist/test/support/.
  contract ??= new Contract(JSON.parse(readFileSync(join(repoRoot(), 'openapi', 'openapi.json'), 'utf8')) as Document);
  return contract;
}

/** Responses a recorder keeps for inspection (the latest): the check itself runs as each one is sent. */
const KEPT_RESPONSES = 50;

/** Records what `app` sends; `violations()` lists each way the responses so far break the document (deduplicated). */
export interface ResponseRecorder {
  /** The latest responses the app sent (at most KEPT_RESPONSES). */
  observed(): readonly ObservedResponse[];
  violations(): string[];
}

export function recordResponses(app: NestFastifyApplication): ResponseRecorder {
  const latest: ObservedResponse[] = [];
  // One line per operation, status and fault: the first body sample shown. Each response is checked as it is sent
  // and not kept: a suite's apps send thousands, some of them files, and Jest runs the suites in one process.
  const found = new Map<string, string>();
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onSend', (request, reply, payload, done) => {
      const contentType = reply.getHeader('content-type');
      const response: ObservedResponse = {
        method: request.method,
        route: request.routeOptions.url,
        status: reply.statusCode,
        contentType: typeof contentType === 'string' ? contentType : undefined,
        body: typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined,
      };
      const violation = loadContract().violation(response);
      const key = violation?.split('; body ')[0];
      if (violation && key && !found.has(key)) found.set(key, violation);
      latest.push(response);
      if (latest.length > KEPT_RESPONSES) latest.shift();
      done(null, payload);
    });
  return {
    observed: () => latest,
    violations: () => [...found.values()],
  };
}

/** For the contract's own test: the checker over a given document. */
export function violationOf(document: unknown, observed: ObservedResponse): string | undefined {
  return new Contract(document as Document).violation(observed);
}
