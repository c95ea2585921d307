import { hkdfSync } from 'node:crypto';
import type { AppConfig } from '../config/app-config';

/** Key id of the key derived from CODE_PEPPER, used when AUDIT_HMAC_KEYS is not set. */
export const DERIVED_AUDIT_KEY_ID = 'pepper';

export interface AuditKeys {
  /** The key that signs new records and checkpoints. */
  signing: { id: string; key: Buffer };
  /** Every key a record or checkpoint may name, by id. */
  byId: ReadonlyMap<string, Buffer>;
}

/**
 * The audit chain's HMAC keys, held only by the application: AUDIT_HMAC_KEYS (`id:base64` pairs, the first signs,
 * the others still verify what they signed), else one key derived from CODE_PEPPER (HKDF-SHA256), which is
 * always kept for verifying so records signed before AUDIT_HMAC_KEYS was set stay verifiable.
 */
export function auditKeysFrom(config: Pick<AppConfig, 'AUDIT_HMAC_KEYS' | 'CODE_PEPPER'>): AuditKeys {
  const derived = Buffer.from(
    hkdfSync('sha256', Buffer.from(config.CODE_PEPPER, 'base64'), Buffer.alloc(0), 'fuli audit chain v1', 32),
  );
  const byId = new Map<string, Buffer>();
  const configured = (config.AUDIT_HMAC_KEYS ?? '')
    .split(',')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const at = pair.indexOf(':');
      return { id: pair.slice(0, at), key: Buffer.from(pair.slice(at + 1), 'base64') };
    });
  for (const { id, key } of configured) {
    if (byId.has(id)) throw new Error(`AUDIT_HMAC_KEYS names key '${id}' twice`);
    byId.set(id, key);
  }
  if (!byId.has(DERIVED_AUDIT_KEY_ID)) byId.set(DERIVED_AUDIT_KEY_ID, derived);
  const signing = configured[0] ?? { id: DERIVED_AUDIT_KEY_ID, key: derived };
  return { signing, byId };
}
