import { createCipheriv, randomBytes } from 'node:crypto';

/**
 * An envelope of the format DataCipher sealed before v2 (`v1.<key id>.<base64url(iv | tag | ciphertext)>`,
 * AES-256-GCM, `context` alone as associated data): what rows written before the change hold, for the tests that
 * check they still open and that the re-encryption job moves them to v2.
 */
export function sealV1(keyId: string, base64Key: string, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const sealer = createCipheriv('aes-256-gcm', Buffer.from(base64Key, 'base64'), iv);
  sealer.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([sealer.update(plaintext, 'utf8'), sealer.final()]);
  return `v1.${keyId}.${Buffer.concat([iv, sealer.getAuthTag(), body]).toString('base64url')}`;
}
