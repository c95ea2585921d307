/**
 * Typed client for the Fuli API (the package @fuli/sdk): openapi-fetch over the types generated from
 * openapi/openapi.json (`npm run sdk` writes ./schema.d.ts), plus client-credentials authentication, retries with
 * backoff, timeouts, automatic Idempotency-Keys, pagination and webhook verification.
 *
 * Relative imports name their `.js` file: the ES module build runs in Node as it is.
 */
import createClient, { type Client, type ClientOptions, type Middleware } from 'openapi-fetch';
import { retryingFetch, type RetryOptions } from './retry.js';
import type { components, paths } from './schema.js';

export type { components, operations, paths } from './schema.js';

/** RFC 9457 problem details, the body of every error; some carry extra members (e.g. `existing_id`). */
export type FuliProblem = components['schemas']['Problem'] & { [member: string]: unknown };

export type FuliClient = Client<paths>;

export interface FuliClientOptions {
  /** e.g. `https://api.fuli.example`, without a trailing `/v1`. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated subset of the client's scopes; the server grants all of them when omitted. */
  scope?: string;
  /** A fetch to use instead of globalThis.fetch (tests, proxies, instrumentation). */
  fetch?: ClientOptions['fetch'];
  /** Retries of requests that are safe to repeat and each attempt's timeout (see RetryOptions for the defaults). */
  retry?: RetryOptions;
  /** Add an Idempotency-Key to each POST that accepts one and has none (default true): it can then be retried. */
  idempotencyKeys?: boolean;
}

/** True for an RFC 9457 problem body as this API returns it (the token endpoint's errors included). */
export function isProblem(value: unknown): value is FuliProblem {
  if (typeof value !== 'object' || value === null) return false;
  const body = value as Record<string, unknown>;
  return (
    typeof body.type === 'string' &&
    typeof body.title === 'string' &&
    typeof body.status === 'number' &&
    typeof body.code === 'string' &&
    typeof body.detail === 'string'
  );
}

/** Routes that take no token; typed so that a path removed from the API fails to compile here. */
const PUBLIC_PATHS: ReadonlySet<keyof paths> = new Set<keyof paths>([
  '/v1/oauth/token',
  '/.well-known/jwks.json',
  '/health/live',
  '/health/ready',
]);

type TokenResponse = components['schemas']['TokenResponseDto'];

/** A failed token request, replayed to every caller that waited on it (a Response body can be read once). */
interface TokenFailure {
  status: number;
  headers: [string, string][];
  body: string;
}

/** Renew this long before `expires_in` runs out (at most 60 s, at most a tenth of the lifetime), against clock skew. */
function refreshMarginMs(lifetimeSeconds: number): number {
  return Math.min(60_000, lifetimeSeconds * 100);
}

/** One cached token per client; concurrent callers share a single in-flight request for it. */
class TokenSource {
  private token: { value: string; renewAt: number } | undefined;
  private pending: Promise<string | TokenFailure> | undefined;

  constructor(private readonly options: FuliClientOptions & { fetch: NonNullable<ClientOptions['fetch']> }) {}

  get(): Promise<string | TokenFailure> {
    if (this.token && Date.now() < this.token.renewAt) return Promise.resolve(this.token.value);
    this.pending ??= this.request().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets `value` if it is still the cached token (a parallel 401 may already have renewed it). */
  invalidate(value: string): void {
    if (this.token?.value === value) this.token = undefined;
  }

  private async request(): Promise<string | TokenFailure> {
    const { baseUrl, clientId, clientSecret, scope } = this.options;
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    });
    if (scope) form.set('scope', scope);
    const response = await this.options.fetch(
      new Request(`${baseUrl.replace(/\/+$/, '')}/v1/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
      }),
    );
    const body = await response.text();
    if (!response.ok) return { status: response.status, headers: [...response.headers], body };
    const token = JSON.parse(body) as TokenResponse;
    this.token = {
      value: token.access_token,
      renewAt: Date.now() + token.expires_in * 1000 - refreshMarginMs(token.expires_in),
    };
    return token.access_token;
  }
}

function failureResponse(failure: TokenFailure): Response {
  return new Response(failure.body, { status: failure.status, headers: failure.headers });
}

/** Adds `Authorization: Bearer`; on a 401 renews the token and sends the request once more. */
function authMiddleware(tokens: TokenSource): Middleware {
  // A Request can be sent only once: keep an unsent copy (and the token it carries) for a retry. Weakly held, so
  // nothing leaks when another middleware answers or replaces the request (that request is then not retried).
  const sentWith = new WeakMap<Request, { copy: Request; token: string }>();
  return {
    async onRequest({ request, schemaPath }) {
      if (PUBLIC_PATHS.has(schemaPath as keyof paths)) return undefined;
      const token = await tokens.get();
      // A token request that failed (e.g. invalid_client) becomes this call's `error`, like any other problem.
      if (typeof token !== 'string') return failureResponse(token);
      request.headers.set('authorization', `Bearer ${token}`);
      sentWith.set(request, { copy: request.clone(), token });
      return request;
    },
    async onResponse({ request, response, options }) {
      const sent = sentWith.get(request);
      sentWith.delete(request);
      if (!sent || response.status !== 401) return undefined;
      await response.body?.cancel();
      tokens.invalidate(sent.token);
      const token = await tokens.get();
      if (typeof token !== 'string') return failureResponse(token);
      sent.copy.headers.set('authorization', `Bearer ${token}`);
      return options.fetch(sent.copy);
    },
  };
}

type PostOf<P extends keyof paths> = NonNullable<paths[P]['post']>;
/** The POST operations that accept an Idempotency-Key, read from the generated types. */
type IdempotentPost = {
  [P in keyof paths]: [PostOf<P>] extends [never]
    ? never
    : PostOf<P> extends { parameters: { header?: infer Header } }
      ? [NonNullable<Header>] extends [never]
        ? never
        : 'Idempotency-Key' extends keyof NonNullable<Header>
          ? P
          : never
      : never;
}[keyof paths];

/**
 * Every POST whose retry the server makes safe with an Idempotency-Key. Checked against the generated types below:
 * an operation that starts (or stops) accepting the header fails to compile until this list follows.
 */
const IDEMPOTENT_POSTS = [
  '/v1/admin/api-clients',
  '/v1/admin/api-clients/{id}/rotate-secret',
  '/v1/admin/cards/void',
  '/v1/admin/cards/{serial}/reactivate',
  '/v1/admin/cards/{serial}/refund',
  '/v1/admin/cards/{serial}/replace',
  '/v1/admin/cards/{serial}/report-loss',
  '/v1/admin/enterprises',
  '/v1/admin/invoices/{id}/void',
  '/v1/admin/keys/re-encryptions',
  '/v1/admin/payments',
  '/v1/admin/products',
  '/v1/cards/void',
  '/v1/cards/{serial}/refund',
  '/v1/cards/{serial}/report-loss',
  '/v1/distributions',
  '/v1/events/{id}/redeliver',
  '/v1/export-keys',
  '/v1/export-keys/{id}/confirm',
  '/v1/exports/{id}/confirm-purge',
  '/v1/invoices',
  '/v1/orders',
  '/v1/orders/{id}/approve',
  '/v1/orders/{id}/cancel',
  '/v1/orders/{id}/exports',
  '/v1/orders/{id}/pay',
  '/v1/orders/{id}/reject',
  '/v1/reconciliations',
  '/v1/statement-runs',
  '/v1/webhook-endpoints',
  '/v1/webhook-endpoints/{id}/recover',
  '/v1/webhook-endpoints/{id}/rotate-secret',
] as const satisfies readonly IdempotentPost[];
type Unlisted = Exclude<IdempotentPost, (typeof IDEMPOTENT_POSTS)[number]>;
const everyIdempotentPostListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyIdempotentPostListed;
const IDEMPOTENT: ReadonlySet<string> = new Set(IDEMPOTENT_POSTS);

/**
 * Gives each POST that accepts an Idempotency-Key (creating ones, and those that move money) a key (a random UUID) unless the caller set one: every retry of the call,
 * by the retry layer, sends the same key, so the server performs it once.
 */
function idempotencyMiddleware(): Middleware {
  return {
    onRequest({ request, schemaPath }) {
      if (request.method !== 'POST' || !IDEMPOTENT.has(schemaPath) || request.headers.has('idempotency-key'))
        return undefined;
      request.headers.set('idempotency-key', globalThis.crypto.randomUUID());
      return request;
    },
  };
}

/**
 * An openapi-fetch client for the whole API that authenticates as an API client: it gets an access token
 * (OAuth 2.0 client credentials), caches it until shortly before it expires, renews it on a 401 and retries once.
 * Requests that are safe to repeat are retried on 429, 503, network errors and timeouts (RetryOptions); creating
 * POSTs get an Idempotency-Key, which makes them safe to repeat. Calls never throw for HTTP errors: they resolve to `{ data }` or `{ error }`, where `error` is a FuliProblem.
 */
export function createFuliClient(options: FuliClientOptions): FuliClient {
  // Resolved at call time so that a fetch installed after client creation (e.g. by a test) is used.
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const fetch = retryingFetch(send, options.retry);
  const client = createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), fetch });
  client.use(authMiddleware(new TokenSource({ ...options, fetch })));
  if (options.idempotencyKeys ?? true) client.use(idempotencyMiddleware());
  return client;
}

export { paginate, FuliApiError, type FuliPage } from './paginate.js';
export { FuliTimeoutError, type RetryOptions } from './retry.js';
export { verifyWebhook, WebhookVerificationError, type FuliEvent, type WebhookHeaders } from './webhooks.js';
