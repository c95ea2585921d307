import { randomBytes, scryptSync } from 'node:crypto';
import type { AppConfig } from '../config/app-config';
import { newClientSecret, SecretHasher } from './secret-hash';

const hasherWith = (key: Buffer) => new SecretHasher({ CLIENT_SECRET_KEY: key.toString('base64') } as AppConfig);

/** A hash as versions before HMAC stored it: `scrypt$N$r$p$salt$hash`. */
function legacyScrypt(secret: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(secret, salt, 32, { N: 1024, r: 8, p: 1 });
  return ['scrypt', 1024, 8, 1, salt.toString('base64'), key.toString('base64')].join('$');
}

describe('SecretHasher', () => {
  const hasher = hasherWith(randomBytes(32));

  it('verifies the secret it hashed and nothing else', async () => {
    const secret = newClientSecret();
    const stored = hasher.hash(secret);
    expect(stored).toMatch(/^hmac-sha256\$[A-Za-z0-9+/]{43}=$/);
    expect(stored).not.toContain(secret);
    expect(hasher.isLegacy(stored)).toBe(false);
    await expect(hasher.verify(secret, stored)).resolves.toBe(true);
    await expect(hasher.verify(`${secret}x`, stored)).resolves.toBe(false);
    await expect(hasher.verify(newClientSecret(), stored)).resolves.toBe(false);
  });

  it('depends on the server key: another key verifies nothing', async () => {
    const secret = newClientSecret();
    await expect(hasherWith(randomBytes(32)).verify(secret, hasher.hash(secret))).resolves.toBe(false);
  });

  it('still verifies legacy scrypt hashes, and marks them for replacement', async () => {
    const secret = newClientSecret();
    const stored = legacyScrypt(secret);
    expect(hasher.isLegacy(stored)).toBe(true);
    await expect(hasher.verify(secret, stored)).resolves.toBe(true);
    await expect(hasher.verify(newClientSecret(), stored)).resolves.toBe(false);
  });

  it('checks many legacy hashes at once without failing any (a few at a time)', async () => {
    const secret = newClientSecret();
    const stored = legacyScrypt(secret);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => hasher.verify(i % 2 ? secret : 'x', stored)));
    expect(results).toEqual([false, true, false, true, false, true]);
  });

  it('rejects stored values of another scheme or truncated ones', async () => {
    await expect(hasher.verify('x', 'bcrypt$whatever')).resolves.toBe(false);
    await expect(hasher.verify('x', 'hmac-sha256$AAAA')).resolves.toBe(false);
  });

  it('makes secrets of 192 bits with a recognisable prefix', () => {
    const secret = newClientSecret();
    expect(secret).toMatch(/^fsk_[A-Za-z0-9_-]{32}$/);
    expect(newClientSecret()).not.toEqual(secret);
  });
});
