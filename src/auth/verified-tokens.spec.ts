import { VerifiedTokens } from './verified-tokens';

describe('VerifiedTokens', () => {
  const claims = (expiresAt: number) => ({ clientId: 'cli_x', scopes: [], expiresAt });

  it('returns remembered claims until they expire, then forgets them', () => {
    const cache = new VerifiedTokens();
    cache.remember('a.b.c', claims(2_000));
    expect(cache.lookup('a.b.c', 1_999)).toEqual(claims(2_000));
    expect(cache.lookup('a.b.c', 2_000)).toBeNull();
    expect(cache.lookup('a.b.c', 1_000)).toBeNull();
  });

  it('never matches another token, even one differing only in its signature', () => {
    const cache = new VerifiedTokens();
    cache.remember('a.b.c', claims(Date.now() + 60_000));
    expect(cache.lookup('a.b.d')).toBeNull();
  });

  it('stays bounded, dropping the oldest entries', () => {
    const cache = new VerifiedTokens();
    const far = Date.now() + 60_000;
    for (let i = 0; i < 10_001; i++) cache.remember(`t${i}`, claims(far));
    expect(cache.lookup('t0')).toBeNull();
    expect(cache.lookup('t1')).not.toBeNull();
    expect(cache.lookup('t10000')).not.toBeNull();
  });
});
