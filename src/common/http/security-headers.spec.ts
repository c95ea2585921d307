import {
  apiSecurityHeaders,
  claimPageCsp,
  claimSecurityHeaders,
  docsSecurityHeaders,
  helmetHeaders,
} from './security-headers';

describe('security headers', () => {
  it('sends HSTS only in production', () => {
    expect(apiSecurityHeaders(false)['strict-transport-security']).toBeUndefined();
    expect(apiSecurityHeaders(true)['strict-transport-security']).toMatch(/^max-age=\d+; includeSubDomains$/);
    expect(docsSecurityHeaders(true)['strict-transport-security']).toBeDefined();
  });

  it('keeps API responses to the REST set and the docs page to helmet’s page defaults', () => {
    expect(Object.keys(apiSecurityHeaders(false)).sort()).toEqual([
      'cache-control',
      'content-security-policy',
      'x-content-type-options',
      'x-frame-options',
    ]);
    const docs = docsSecurityHeaders(false);
    expect(docs['cross-origin-opener-policy']).toBe('same-origin');
    expect(docs['content-security-policy']).toContain("img-src 'self' data:");
    expect(docs['cache-control']).toBeUndefined();
  });

  it('keeps the claim page out of referrers, caches, search engines and frames', () => {
    const claim = claimSecurityHeaders(false);
    expect(claim).toMatchObject({
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'x-robots-tag': 'noindex, nofollow',
      'x-frame-options': 'DENY',
    });
    expect(claim['content-security-policy']).toContain("default-src 'none'");
    expect(claimSecurityHeaders(true)['strict-transport-security']).toBeDefined();
    expect(Object.isFrozen(claim)).toBe(true);
  });

  it("lets the claim page run only its own nonce's script and style", () => {
    const csp = claimPageCsp('abc123==');
    expect(csp).toContain("script-src 'nonce-abc123=='");
    expect(csp).toContain("style-src 'nonce-abc123=='");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe|\*|data:/);
  });

  it('is frozen, so a request cannot change what the next one gets', () => {
    expect(Object.isFrozen(apiSecurityHeaders(false))).toBe(true);
    expect(Object.isFrozen(helmetHeaders({}))).toBe(true);
  });

  it('throws what helmet refuses instead of serving without headers', () => {
    expect(() =>
      helmetHeaders({ contentSecurityPolicy: { directives: { defaultSrc: ["'self'", 'bad value;'] } } }),
    ).toThrow();
  });
});
