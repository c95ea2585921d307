import { createHash, randomBytes } from 'node:crypto';

/**
 * A claim link's token: 256 random bits, base64url, shown only in the message to the employee (or, for channel
 * `link`, once to the ERP). The database keeps only its SHA-256, so a leaked table opens no claim page.
 */
export function newClaimToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: claimTokenHash(token) };
}

export function claimTokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Tokens are 43 base64url characters; anything else is refused before a lookup. */
export function isClaimTokenShape(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}

/** A token safe to log or show to support: its first 4 characters. */
export function maskClaimToken(token: string): string {
  return `${token.slice(0, 4)}…`;
}

export function claimUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/$/, '')}/claim/${token}`;
}
