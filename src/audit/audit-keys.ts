import type { AppConfig } from '../config/app-config';

export interface AuditKeys {
  /** The key that signs new records and checkpoints. */
  signing: { id: string; key: Buffer };
  /** Every key a record or checkpoint may name, by id. */
  byId: ReadonlyMap<string, Buffer>;
}

/**
 * The audit chain's HMAC keys, held only by the application: AUDIT_HMAC_KEYS (`id:base64` pairs, the first signs,
 * the others still verify what they signed).
 */
export function auditKeysFrom(config: Pick<AppConfig, 'AUDIT_HMAC_KEYS'>): AuditKeys {
  const byId = new Map<string, Buffer>();
  const configured = config.AUDIT_HMAC_KEYS.split(',')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const at = pair.indexOf(':');
      return { id: pair.slice(0, at), key: Buffer.from(pair.slice(at + 1), 'base64') };
    });
  for (const { id, key } of configured) {
    if (byId.has(id)) throw new Error(`AUDIT_HMAC_KEYS names key '${id}' twice`);
    byId.set(id, key);
  }
  if (configured.length === 0) throw new Error('AUDIT_HMAC_KEYS names no key');
  return { signing: configured[0], byId };
}
