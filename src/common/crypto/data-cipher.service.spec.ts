import { randomBytes } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { DataCipher } from './data-cipher.service';

const key = () => randomBytes(32).toString('base64');
const cipherWith = (keys: string) => new DataCipher(Object.assign(new AppConfig(), { DATA_ENCRYPTION_KEYS: keys }));

describe('DataCipher', () => {
  it('round-trips text under the active key, never showing the plaintext', () => {
    const cipher = cipherWith(`k1:${key()}`);
    const envelope = cipher.encrypt('张三|110101199003077777', 'orders.purchaser:ord_1');
    expect(envelope).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+$/);
    expect(envelope).not.toContain('110101');
    expect(cipher.decrypt(envelope, 'orders.purchaser:ord_1')).toBe('张三|110101199003077777');
    expect(cipher.encrypt('same', 'c')).not.toBe(cipher.encrypt('same', 'c'));
  });

  it('refuses an envelope moved to another context, or tampered with', () => {
    const cipher = cipherWith(`k1:${key()}`);
    const envelope = cipher.encrypt('secret', 'orders.purchaser:ord_1');
    expect(() => cipher.decrypt(envelope, 'orders.purchaser:ord_2')).toThrow();
    const tampered = envelope.slice(0, -2) + (envelope.endsWith('A') ? 'BB' : 'AA');
    expect(() => cipher.decrypt(tampered, 'orders.purchaser:ord_1')).toThrow();
  });

  it('rotates: old envelopes still decrypt, new ones use the first key', () => {
    const [oldKey, newKey] = [key(), key()];
    const before = cipherWith(`k1:${oldKey}`).encrypt('v', 'c');
    const rotated = cipherWith(`k2:${newKey},k1:${oldKey}`);
    expect(rotated.decrypt(before, 'c')).toBe('v');
    expect(rotated.isStale(before)).toBe(true);
    expect(rotated.encrypt('v', 'c')).toMatch(/^v1\.k2\./);
    expect(() => cipherWith(`k2:${newKey}`).decrypt(before, 'c')).toThrow(/key id/);
  });
});
