import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { canonicalJson } from '../common/canonical-json';
import { SCOPES } from '../common/access/scopes';

const DESCRIPTION = `Fuli is the issuer-side API for prepaid employee-benefit e-cards: enterprises order cards in bulk,
distribute them to employees, and follow every change through signed webhooks.

Authenticate with OAuth 2.0 client credentials at \`POST /v1/oauth/token\`, then send
\`Authorization: Bearer <token>\`. Errors are RFC 9457 problem+json with a stable \`code\`.
Money is integer fen (CNY minor units). Lists are cursor-paginated (\`limit\`, \`starting_after\`).`;

/** The OpenAPI document, generated from the controllers' decorators: served at /docs and committed as openapi/openapi.json. */
export function buildOpenApiDocument(app: INestApplication, serverUrl?: string): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Fuli API')
    .setDescription(DESCRIPTION)
    .setVersion('1.0.0')
    .setLicense('Proprietary', 'https://fuli.example/terms')
    .addServer(serverUrl ?? 'http://localhost:3000', 'This server')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: `Scopes: ${SCOPES.join(', ')}` },
      'bearer',
    )
    .addTag('auth', 'Access tokens and signing keys')
    .addTag('admin', 'Platform operator endpoints (scope admin)')
    .addTag('enterprises', "An enterprise client's view of its own tenant")
    .addTag('products', 'Card products on sale, at the enterprise price')
    .addTag('orders', 'Bulk orders: placing, approving, paying, cancelling; bank transfers booked')
    .addTag('cards', 'Issuance progress and the cards of an order (serials, never codes)')
    .addTag('distributions', "Handing an order's cards to employees: e-mail, SMS, claim links, bulk binding")
    .addTag(
      'exports',
      "Card codes and PINs of an issued order, exported encrypted to the client's OpenPGP key (scope cards:secrets)",
    )
    .addTag(
      'invoices',
      'Invoices for paid orders (增值税普通发票, 不征税 under 国家税务总局公告2016年第53号), red-letter invoices, PDF and XML',
    )
    .addTag(
      'reconciliation',
      'Finance: statements that tie out to the ledger (JSON, CSV, XLSX), redemption (核销) summaries (scope ' +
        "reconciliation:read), and the ERP's records uploaded and matched against the orders (reconciliation:write)",
    )
    .addTag('balance', "An enterprise client's prepaid balance and credit line, derived from the ledger")
    .addTag(
      'webhooks',
      'Webhook endpoints, signed to the Standard Webhooks spec: register, rotate secrets, test, attempts, recovery',
    )
    .addTag('events', 'Everything that happened to your orders and cards, as delivered to your webhook endpoints')
    .addTag('health', 'Liveness, readiness')
    .addTag(
      'redemptions',
      'The redemption channel (scope redemptions:write): verify a code, bind a card to a holder, payment codes, debit and reverse, idempotent by the channel reference',
    )
    .addTag(
      'risk',
      'Fraud monitoring for the operator (scope admin): rule settings per enterprise and channel, alerts',
    );
  const document = SwaggerModule.createDocument(app, builder.build(), {
    // operationId comes from the handler (set with @ApiOperation) so SDK method names are stable. This fallback
    // is deliberately not camelCase: `npm run openapi` rejects it, naming the handler that lacks an operationId.
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  documentUnsupportedMediaType(document);
  return document;
}

/**
 * Every operation that takes a body answers 415 to a content type it does not list: a rule of the body parsers
 * (src/common/http/body-parsers.ts), not of any one controller, so it is added here rather than per route.
 */
function documentUnsupportedMediaType(document: OpenAPIObject): void {
  for (const path of Object.values(document.paths)) {
    for (const method of ['post', 'put', 'patch', 'delete'] as const) {
      const operation = path[method];
      if (!operation?.requestBody) continue;
      operation.responses['415'] ??= {
        description: 'unsupported_media_type: the body is not application/json (or, where listed, a form)',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Problem' } } },
      };
    }
  }
}

/** Deterministic text of the document: sorted keys, two-space indent, final newline. */
export function serialiseOpenApi(document: OpenAPIObject): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(document)), null, 2)}\n`;
}

export function setupDocs(app: INestApplication, serverUrl: string): void {
  const document = buildOpenApiDocument(app, serverUrl);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs/openapi.json',
    yamlDocumentUrl: 'docs/openapi.yaml',
    customSiteTitle: 'Fuli API',
  });
}
