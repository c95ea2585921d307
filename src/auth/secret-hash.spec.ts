import { hashSecret, newClientSecret, verifySecret } from './secret-hash';

describe('client secret hashing', () => {
  it('verifies the secret it hashed and nothing else', async () => {
    const secret = newClientSecret();
    const stored = await hashSecret(secret);
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(stored).not.toContain(secret);
    await expect(verifySecret(secret, stored)).resolves.toBe(true);
    await expect(verifySecret(`${secret}x`, stored)).resolves.toBe(false);
    await expect(verifySecret(newClientSecret(), stored)).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    const secret = newClientSecret();
    expect(await hashSecret(secret)).not.toEqual(await hashSecret(secret));
  });

  it('rejects stored values of another scheme', async () => {
    await expect(verifySecret('x', 'bcrypt$whatever')).resolves.toBe(false);
  });

  it('makes secrets of 192 bits with a recognisable prefix', () => {
    const secret = newClientSecret();
    expect(secret).toMatch(/^fsk_[A-Za-z0-9_-]{32}$/);
    expect(newClientSecret()).not.toEqual(secret);
  });
});
