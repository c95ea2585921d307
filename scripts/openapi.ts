/**
 * `npm run openapi`: writes openapi/openapi.json from the controllers' decorators, without a database.
 *
 * The application is created in Nest's preview mode: modules, controllers and routes are resolved but no
 * provider or controller is instantiated, so nothing connects to Postgres, Redis or anything else. The
 * configuration is fixed and its secrets are throwaway, so the output depends on the code only.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RequestMethod } from '@nestjs/common';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants.js';
import { MetadataScanner, ModulesContainer, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { AppModule } from '../src/app.module';
import { loadConfig } from '../src/config/app-config';
import { buildOpenApiDocument, serialiseOpenApi } from '../src/docs/openapi';
import type { QueueConnection } from '../src/queue/queue-backend';
import { repoRoot } from './paths';

/** Fixed so that the committed document does not depend on PUBLIC_URL or PORT of whoever generates it. */
export const OPENAPI_SERVER_URL = 'http://localhost:3000';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const OPERATION_ID = /^[a-z][a-zA-Z0-9]*$/;
/** @nestjs/swagger's metadata keys (DECORATORS.API_EXCLUDE_*), not exported under a stable path. */
const API_EXCLUDE_ENDPOINT = 'swagger/apiExcludeEndpoint';
const API_EXCLUDE_CONTROLLER = 'swagger/apiExcludeController';

export const OPENAPI_FILE = 'openapi/openapi.json';

/** A queue backend that is never used: preview mode instantiates nothing that would read it. */
const UNUSED_QUEUE: QueueConnection = {
  backend: 'redis',
  connection: { lazyConnect: true },
  ping: () => Promise.reject(new Error('document generation has no queue backend')),
  close: () => Promise.resolve(),
};

function previewConfig() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // Every secret is given, so loadConfig never writes DATA_DIR/secrets.json.
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
    CODE_PEPPER: randomBytes(32).toString('base64'),
    DATA_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    JWT_SIGNING_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ADMIN_CLIENT_ID: 'cli_openapi',
    ADMIN_CLIENT_SECRET: randomBytes(24).toString('base64url'),
  });
}

interface PreviewApp {
  app: NestFastifyApplication;
  /** `METHOD /path/{param}` of every route Fastify registered (HEAD twins of GET routes left out). */
  routes: Set<string>;
}

/** The whole application in preview mode, initialised so that its routes are registered with Fastify. */
export async function createPreviewApp(): Promise<PreviewApp> {
  const config = previewConfig();
  const adapter = new FastifyAdapter({ logger: false });
  const registered: { method: string; url: string }[] = [];
  adapter.getInstance().addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) registered.push({ method, url: route.url });
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot({ config, databaseUrl: config.DATABASE_URL!, queue: UNUSED_QUEUE, worker: false }),
    adapter,
    { preview: true, logger: ['error'], abortOnError: false },
  );
  await app.init();
  const gets = new Set(registered.filter((r) => r.method === 'GET').map((r) => r.url));
  const routes = new Set(
    registered
      .filter((r) => !(r.method === 'HEAD' && gets.has(r.url)))
      .map((r) => `${r.method} ${r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`),
  );
  return { app, routes };
}

function joinPath(...parts: string[]): string {
  const path = parts
    .map((part) => part.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/');
  return `/${path}`.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Routes whose handler or controller is marked @ApiExcludeEndpoint / @ApiExcludeController (none today). */
function excludedRoutes(app: NestFastifyApplication): Set<string> {
  const excluded = new Set<string>();
  const scanner = new MetadataScanner();
  for (const module of app.get(ModulesContainer).values()) {
    for (const { metatype } of module.controllers.values()) {
      if (!metatype) continue;
      const type = metatype as object;
      const wholeController =
        (Reflect.getMetadata(API_EXCLUDE_CONTROLLER, type) as boolean[] | undefined)?.[0] === true;
      const prefixes = [(Reflect.getMetadata(PATH_METADATA, type) as string | string[] | undefined) ?? ''].flat();
      const prototype = (metatype as { prototype: Record<string, unknown> }).prototype;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name] as object;
        const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        if (paths === undefined) continue;
        const skip = (Reflect.getMetadata(API_EXCLUDE_ENDPOINT, handler) as { disable?: boolean } | undefined)?.disable;
        if (!wholeController && !skip) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        for (const prefix of prefixes)
          for (const path of [paths].flat()) excluded.add(`${method} ${joinPath(prefix, path)}`);
      }
    }
  }
  return excluded;
}

/** Every served route documented (unless excluded on purpose), nothing documented that is not served. */
export function checkRoutes(document: OpenAPIObject, routes: Set<string>, excluded: Set<string>): string[] {
  const documented = new Set<string>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) if (item[method]) documented.add(`${method.toUpperCase()} ${path}`);
  }
  const problems: string[] = [];
  for (const route of routes) {
    if (!documented.has(route) && !excluded.has(route)) problems.push(`route ${route} is served but not documented`);
  }
  for (const route of documented) {
    if (!routes.has(route)) problems.push(`operation ${route} is documented but not served`);
  }
  return problems;
}

/** SDK method names come from operationIds: each must be set, camelCase and unique. */
export function checkOperationIds(document: OpenAPIObject): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const where = `${method.toUpperCase()} ${path}`;
      const id = operation.operationId;
      const fix = 'set it with @ApiOperation({ operationId }) on the handler';
      if (!id) problems.push(`${where} has no operationId: ${fix}`);
      else if (!OPERATION_ID.test(id)) problems.push(`${where}: operationId '${id}' is not camelCase: ${fix}`);
      else if (seen.has(id)) problems.push(`${where}: operationId '${id}' is also used by ${seen.get(id)}`);
      else seen.set(id, where);
    }
  }
  return problems;
}

/** Every tag an operation uses is declared (with a description) in buildOpenApiDocument. */
export function checkTags(document: OpenAPIObject): string[] {
  const declared = new Map((document.tags ?? []).map((tag) => [tag.name, tag.description]));
  const problems: string[] = [];
  for (const [name, description] of declared) {
    if (!description) problems.push(`tag '${name}' has no description`);
  }
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      for (const tag of item[method]?.tags ?? []) {
        if (!declared.has(tag)) {
          problems.push(
            `${method.toUpperCase()} ${path}: tag '${tag}' is not declared: add it with .addTag() in src/docs/openapi.ts`,
          );
        }
      }
    }
  }
  return [...new Set(problems)];
}

/** Builds, checks and writes the document; returns the path written. */
export async function writeOpenApi(root = repoRoot()): Promise<string> {
  const { app, routes } = await createPreviewApp();
  try {
    const document = buildOpenApiDocument(app, OPENAPI_SERVER_URL);
    const problems = [
      ...checkRoutes(document, routes, excludedRoutes(app)),
      ...checkOperationIds(document),
      ...checkTags(document),
    ];
    if (problems.length > 0) throw new Error(`The OpenAPI document is incomplete:\n  ${problems.join('\n  ')}`);
    const file = resolve(root, OPENAPI_FILE);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, serialiseOpenApi(document));
    return file;
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  writeOpenApi().then(
    (file) => console.log(`wrote ${file}`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
