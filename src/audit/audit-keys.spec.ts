import { randomBytes } from 'node:crypto';
import { auditKeysFrom, DERIVED_AUDIT_KEY_ID } from './audit-keys';

const PEPPER = randomBytes(32).toString('base64');
const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');

describe('auditKeysFrom', () => {
  it('derives a signing key from CODE_PEPPER when AUDIT_HMAC_KEYS is unset, the same every time', () => {
    const keys = auditKeysFrom({ CODE_PEPPER: PEPPER });
    expect(keys.signing.id).toBe(DERIVED_AUDIT_KEY_ID);
    expect(keys.signing.key).toHaveLength(32);
    expect(keys.signing.key.equals(auditKeysFrom({ CODE_PEPPER: PEPPER }).signing.key)).toBe(true);
    expect(keys.signing.key.equals(Buffer.from(PEPPER, 'base64'))).toBe(false);
    expect([...keys.byId.keys()]).toEqual([DERIVED_AUDIT_KEY_ID]);
  });

  it('signs with the first configured key and verifies with all, the derived one included', () => {
    const keys = auditKeysFrom({ CODE_PEPPER: PEPPER, AUDIT_HMAC_KEYS: `a2:${K2},a1:${K1}` });
    expect(keys.signing).toEqual({ id: 'a2', key: Buffer.from(K2, 'base64') });
    expect([...keys.byId.keys()]).toEqual(['a2', 'a1', DERIVED_AUDIT_KEY_ID]);
    expect(keys.byId.get(DERIVED_AUDIT_KEY_ID)?.equals(auditKeysFrom({ CODE_PEPPER: PEPPER }).signing.key)).toBe(true);
  });

  it('refuses a key id given twice', () => {
    expect(() => auditKeysFrom({ CODE_PEPPER: PEPPER, AUDIT_HMAC_KEYS: `a1:${K1},a1:${K2}` })).toThrow(/twice/);
  });
});
