import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { canonicalJson } from '../common/canonical-json';
import type { Scope } from '../common/access/scopes';
import type {
  OperationObject,
  ParameterObject,
  ResponseObject,
  SchemaObject,
  SecurityRequirementObject,
} from './openapi-types';
import { BODY_PARSER_CODES, documentProblemResponses } from './problem-responses';
import { documentValidatorLimits } from './validator-limits';

const DESCRIPTION = `Fuli is the issuer-side API for prepaid employee-benefit e-cards: enterprises order cards in bulk,
distribute them to employees, and follow every change through signed webhooks.

Authenticate with OAuth 2.0 client credentials at \`POST /v1/oauth/token\`, then send
\`Authorization: Bearer <token>\`. Errors are RFC 9457 problem+json with a stable \`code\`.
Money is integer fen (CNY minor units). Lists are cursor-paginated (\`limit\`, \`starting_after\`).`;

/** What each scope allows, shown by /docs "Authorize" (a Record: a new scope fails to compile until described). */
const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  'products:read': 'Read the catalog at the enterprise price',
  'orders:read': 'Read orders, batches and payments',
  'orders:write': 'Place and cancel orders',
  'orders:approve': 'Approve, reject and pay orders (finance)',
  'distributions:read': 'Read distributions and their recipients',
  'distributions:write': 'Distribute cards to employees',
  'cards:read': 'Read cards (serials, never codes)',
  'cards:write': 'Freeze, unfreeze, report lost, refund and void cards',
  'cards:secrets': 'Export card codes and PINs, encrypted to your key',
  'invoices:read': 'Read invoices',
  'invoices:write': 'Request invoices and set the invoice profile',
  'reconciliation:read': 'Statements and redemption summaries',
  'reconciliation:write': "Upload the ERP's records to match",
  'webhooks:manage': 'Register and manage webhook endpoints',
  'events:read': 'Read events',
  'redemptions:write': 'Redemption channel (operator clients only)',
  admin: 'Platform operator (operator clients only)',
};

/** Tags in the order an enterprise developer needs them: getting a token first, the operator's endpoints last. */
const TAGS: [string, string][] = [
  ['auth', 'Access tokens and signing keys'],
  ['products', 'Card products on sale, at the enterprise price'],
  ['orders', 'Bulk orders: placing, approving, paying, cancelling; bank transfers booked'],
  ['cards', 'Issuance progress and the cards of an order (serials, never codes)'],
  ['distributions', "Handing an order's cards to employees: e-mail, SMS, claim links, bulk binding"],
  [
    'webhooks',
    'Webhook endpoints, signed to the Standard Webhooks spec: register, rotate secrets, test, attempts, recovery',
  ],
  ['events', 'Everything that happened to your orders and cards, as delivered to your webhook endpoints'],
  [
    'exports',
    "Card codes and PINs of an issued order, exported encrypted to the client's OpenPGP key (scope cards:secrets)",
  ],
  [
    'invoices',
    'Invoices for paid orders (增值税普通发票, 不征税 under 国家税务总局公告2016年第53号), red-letter invoices, PDF and XML',
  ],
  ['balance', "An enterprise client's prepaid balance and credit line, derived from the ledger"],
  [
    'reconciliation',
    'Finance: statements that tie out to the ledger (JSON, CSV, XLSX), redemption (核销) summaries (scope ' +
      "reconciliation:read), and the ERP's records uploaded and matched against the orders (reconciliation:write)",
  ],
  ['enterprises', "An enterprise client's view of its own tenant"],
  [
    'redemptions',
    'The redemption channel (scope redemptions:write): verify a code, bind a card to a holder, payment codes, debit and reverse, idempotent by the channel reference',
  ],
  ['health', 'Liveness, readiness'],
  ['risk', 'Fraud monitoring for the operator (scope admin): rule settings per enterprise and channel, alerts'],
  ['admin', 'Platform operator endpoints (scope admin)'],
];

/** The OpenAPI document, generated from the controllers' decorators: served at /docs and committed as openapi/openapi.json. */
export function buildOpenApiDocument(app: INestApplication, serverUrl?: string): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Fuli API')
    .setDescription(DESCRIPTION)
    .setVersion('1.0.0')
    .setLicense('Proprietary', 'https://fuli.example/terms')
    .addServer(serverUrl ?? 'http://localhost:3000', 'This server')
    .addOAuth2(
      {
        type: 'oauth2',
        description:
          'OAuth 2.0 client credentials: in /docs, "Authorize" takes a client id and secret and gets the token itself.',
        flows: {
          clientCredentials: {
            tokenUrl: `${(serverUrl ?? 'http://localhost:3000').replace(/\/+$/, '')}/v1/oauth/token`,
            scopes: SCOPE_DESCRIPTIONS,
          },
        },
      },
      'oauth2',
    )
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /v1/oauth/token' },
      'bearer',
    );
  // In the order an enterprise developer meets them; the operator's endpoints last.
  for (const [name, description] of TAGS) builder.addTag(name, description);
  const document = SwaggerModule.createDocument(app, builder.build(), {
    // operationId comes from the handler (set with @ApiOperation) so SDK method names are stable. This fallback
    // is deliberately not camelCase: `npm run openapi` rejects it, naming the handler that lacks an operationId.
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  documentBodyErrors(document);
  documentValidatorLimits(document);
  documentIntegers(document);
  documentProblemResponses(document);
  documentSecurity(document);
  documentPathPatterns(document);
  return document;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

function* operationsOf(document: OpenAPIObject): Generator<OperationObject> {
  for (const item of Object.values(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation) yield operation;
    }
  }
}

function problemResponse(description: string): ResponseObject {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Problem' } } } };
}

/**
 * Every operation that takes a body can answer 400 (validation, malformed JSON), 413 (over the body limit) and 415
 * (a content type it does not list): rules of the validation pipe and the body parsers
 * (src/common/http/body-parsers.ts), not of any one controller, so they are added here rather than per route.
 * Operations with query parameters or an Idempotency-Key validate those too: 400.
 */
function documentBodyErrors(document: OpenAPIObject): void {
  for (const item of Object.values(document.paths)) {
    // A POST, PUT or PATCH without a body of its own still goes through the body parsers when a body is sent.
    for (const method of ['post', 'put', 'patch'] as const) {
      const operation = item[method];
      if (operation && !operation.requestBody) documentParserErrors(operation);
    }
  }
  for (const operation of operationsOf(document)) {
    const validated = ((operation.parameters ?? []) as ParameterObject[]).some(
      (parameter) => parameter.in === 'query' || parameter.name.toLowerCase() === 'idempotency-key',
    );
    if (operation.requestBody || validated) {
      operation.responses['400'] ??= problemResponse(
        'validation_failed (each fault in `errors`, with its field and code), or a body that is not valid JSON',
      );
    }
    if (!operation.requestBody) continue;
    documentParserErrors(operation);
    // A body the parsers refuse (malformed JSON or form) is a problem even where the operation's own 400 is another
    // format (the token endpoint's RFC 6749 errors).
    const badRequest = operation.responses['400'] as ResponseObject;
    const content = (badRequest.content ??= {});
    const isProblem = (media: { schema?: unknown }) =>
      JSON.stringify(media.schema) === JSON.stringify({ $ref: '#/components/schemas/Problem' });
    if (!Object.values(content).some(isProblem)) {
      content['application/problem+json'] = {
        schema: { $ref: '#/components/schemas/Problem' },
        examples: Object.fromEntries(
          BODY_PARSER_CODES.map((code) => [code, { $ref: `#/components/examples/400_${code}` }]),
        ),
      };
    }
  }
}

/** What the body parsers answer, before any handler: a body that is not JSON, too large, or of another type. */
function documentParserErrors(operation: OperationObject): void {
  operation.responses['400'] ??= problemResponse(
    'malformed_json: a body was sent and it is not valid JSON; or validation_failed (each fault in `errors`)',
  );
  operation.responses['413'] ??= problemResponse('payload_too_large: the body is over the size limit');
  operation.responses['415'] ??= problemResponse(
    'unsupported_media_type: the body is not application/json (or, where listed, a form or a file)',
  );
}

/** Rates (fractions per second or minute) are the only non-integer numbers of the API: money is integer fen. */
const FRACTIONAL = new Set(['rate', 'rate_per_minute']);

function integerise(schema: SchemaObject, name: string | undefined): void {
  if (schema.type === 'number' && !(name && FRACTIONAL.has(name))) schema.type = 'integer';
  if (schema.items && !('$ref' in schema.items)) integerise(schema.items, undefined);
  for (const [property, child] of Object.entries(schema.properties ?? {}) as [
    string,
    SchemaObject | { $ref: string },
  ][]) {
    if (!('$ref' in child)) integerise(child, property);
  }
}

/** Money is integer fen and counts are counts: `number` only where a value is a rate. */
function documentIntegers(document: OpenAPIObject): void {
  for (const schema of Object.values(document.components?.schemas ?? {})) {
    if (!('$ref' in schema)) integerise(schema, undefined);
  }
  for (const operation of operationsOf(document)) {
    for (const parameter of (operation.parameters ?? []) as ParameterObject[]) {
      if (parameter.schema && !('$ref' in parameter.schema)) integerise(parameter.schema, parameter.name);
    }
  }
}

/**
 * One requirement per operation, offering the OAuth 2.0 flow (with the operation's scopes) or a pasted bearer token;
 * a controller-wide and a route's own @RequireScopes merge into one (their scopes together).
 */
function documentSecurity(document: OpenAPIObject): void {
  for (const operation of operationsOf(document)) {
    const requirements: SecurityRequirementObject[] | undefined = operation.security;
    if (!requirements || requirements.length === 0) continue;
    const scopes = new Set<string>();
    for (const requirement of requirements) {
      for (const list of Object.values<string[]>(requirement)) for (const scope of list) scopes.add(scope);
    }
    operation.security = [{ oauth2: [...scopes] }, { bearer: [] }];
  }
}

/** Path parameters whose format the API fixes (a card serial is digits), for try-it-out and generated clients. */
const PATH_PATTERNS: Record<string, string> = { serial: '^\\d{2,20}$' };

function documentPathPatterns(document: OpenAPIObject): void {
  for (const operation of operationsOf(document)) {
    for (const parameter of (operation.parameters ?? []) as ParameterObject[]) {
      const pattern = PATH_PATTERNS[parameter.name];
      if (parameter.in === 'path' && pattern && parameter.schema && !('$ref' in parameter.schema))
        parameter.schema.pattern = pattern;
    }
  }
}

/** Deterministic text of the document: sorted keys, two-space indent, final newline. */
export function serialiseOpenApi(document: OpenAPIObject): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(document)), null, 2)}\n`;
}

/** What `npm start` seeded outside production, for /docs to name (see showDemoInDocs). */
export interface DocsDemo {
  enterprise_id: string;
  product_ids: string[];
  hr_client_id: string;
}

const demos = new WeakMap<INestApplication, DocsDemo>();

/**
 * Makes /docs name the demo objects `npm start` seeded: their ids in the description and as the example of the
 * `{id}` of the product and enterprise operations, so that "Try it out" answers with real objects, not
 * product_not_found. The committed document (openapi/openapi.json) never carries them: they differ per database.
 */
export function showDemoInDocs(app: INestApplication, demo: DocsDemo): void {
  demos.set(app, demo);
}

function withDemo(document: OpenAPIObject, demo: DocsDemo | undefined): OpenAPIObject {
  if (!demo) return document;
  const copy = JSON.parse(JSON.stringify(document)) as OpenAPIObject;
  copy.info.description =
    `${copy.info.description ?? ''}\n\n**This server's demo** (seeded by \`npm start\`): "Authorize" with the demo HR ` +
    `client \`${demo.hr_client_id}\` and the secret \`npm start\` printed; enterprise \`${demo.enterprise_id}\`; ` +
    `products ${demo.product_ids.map((id) => `\`${id}\``).join(', ')}.`;
  const examples: Record<string, string | undefined> = {
    '/v1/products/{id}': demo.product_ids[0],
    '/v1/admin/products/{id}': demo.product_ids[0],
    '/v1/enterprises/{id}': demo.enterprise_id,
    '/v1/admin/enterprises/{id}': demo.enterprise_id,
  };
  for (const [path, example] of Object.entries(examples)) {
    for (const operation of Object.values(copy.paths[path] ?? {}) as OperationObject[]) {
      for (const parameter of (operation.parameters ?? []) as ParameterObject[]) {
        if (parameter.in === 'path' && parameter.name === 'id') parameter.example = example;
      }
    }
  }
  return copy;
}

export function setupDocs(app: INestApplication, serverUrl: string): void {
  const document = buildOpenApiDocument(app, serverUrl);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs/openapi.json',
    yamlDocumentUrl: 'docs/openapi.yaml',
    customSiteTitle: 'Fuli API',
    patchDocumentOnRequest: (_request, _response, built) => withDemo(built, demos.get(app)),
    // "Authorize" keeps the token across page reloads; the client credentials flow needs no redirect page.
    swaggerOptions: { persistAuthorization: true },
  });
}
