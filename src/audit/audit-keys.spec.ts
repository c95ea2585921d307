import { randomBytes } from 'node:crypto';
import { auditKeysFrom } from './audit-keys';

const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');

describe('auditKeysFrom', () => {
  it('signs with the first configured key and verifies with all', () => {
    const keys = auditKeysFrom({ AUDIT_HMAC_KEYS: `a2:${K2},a1:${K1}` });
    expect(keys.signing).toEqual({ id: 'a2', key: Buffer.from(K2, 'base64') });
    expect([...keys.byId.keys()]).toEqual(['a2', 'a1']);
    expect(keys.byId.get('a1')?.equals(Buffer.from(K1, 'base64'))).toBe(true);
  });

  it('refuses a key id given twice', () => {
    expect(() => auditKeysFrom({ AUDIT_HMAC_KEYS: `a1:${K1},a1:${K2}` })).toThrow(/twice/);
  });
});
