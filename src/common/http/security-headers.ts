import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/** Response headers to set, lower-case names to values. */
export type HeaderSet = Readonly<Record<string, string>>;

/**
 * The headers helmet sets for `options`, worked out once. For fixed options helmet's middleware only ever sets the
 * same constant headers, so running it per request (as @fastify/helmet does, building a new helmet each time) costs
 * CPU for nothing.
 */
export function helmetHeaders(options: HelmetOptions): HeaderSet {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    failure = error;
  });
  if (failure) throw failure instanceof Error ? failure : new Error('helmet refused the security-header options');
  return Object.freeze(headers);
}

/**
 * JSON API responses: the OWASP REST Security Cheat Sheet's set (nosniff, a CSP and X-Frame-Options that forbid
 * framing, HSTS in production, and Cache-Control: no-store, which a route may override, as the JWKS does). Nothing here is ever rendered as a page, and the
 * API authenticates with bearer tokens, not cookies, so the headers that guard pages and ambient credentials
 * (COOP, CORP, Referrer-Policy, Origin-Agent-Cluster, X-DNS-Prefetch-Control, …) are left off: each costs every
 * response its bytes and its validation for nothing.
 */
export function apiSecurityHeaders(production: boolean): HeaderSet {
  const headers = helmetHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    xFrameOptions: { action: 'deny' },
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    referrerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
    strictTransportSecurity: production,
  });
  return Object.freeze({ ...headers, 'cache-control': 'no-store' });
}

/** The interactive docs page (/docs): helmet's defaults, loosened just enough for Swagger UI's inline script and styles. */
export function docsSecurityHeaders(production: boolean): HeaderSet {
  return helmetHeaders({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", "'unsafe-inline'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
      },
    },
    strictTransportSecurity: production,
  });
}

/**
 * The claim page (/claim/…), opened by employees from a link whose token is its secret: no Referer may carry the URL
 * anywhere, no cache may keep the page or a revealed code, search engines keep out, no one frames it. The HTML
 * page replaces this CSP with claimPageCsp and its nonce; the JSON answers and assets keep `default-src 'none'`.
 */
export function claimSecurityHeaders(production: boolean): HeaderSet {
  const headers = helmetHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    originAgentCluster: false,
    xDnsPrefetchControl: { allow: false },
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
    strictTransportSecurity: production,
  });
  return Object.freeze({ ...headers, 'cache-control': 'no-store', 'x-robots-tag': 'noindex, nofollow' });
}

/**
 * The claim page's own policy: its one inline script and style only with this response's nonce, images (the card
 * design) and fetches (reveal, one-time code) from this origin, nothing else, no forms, no base, no framing.
 */
export function claimPageCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
