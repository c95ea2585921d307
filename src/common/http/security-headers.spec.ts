import { apiSecurityHeaders, docsSecurityHeaders, helmetHeaders } from './security-headers';

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
