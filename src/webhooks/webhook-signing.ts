/**
 * Standard Webhooks (https://www.standardwebhooks.com) signing and the retry schedule: pure functions.
 *
 * Signing is one HMAC-SHA256 by the spec, done with node:crypto (OpenSSL) rather than the `standardwebhooks`
 * package, whose pure-JS SHA-256 is several times slower on the delivery hot path. Receivers, the SDK helper and
 * the tests verify with that package, so every signature is checked by an independent implementation.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** 32 random bytes: the spec allows 24 to 64. */
const SECRET_BYTES = 32;

export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

/**
 * The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under each secret, separated
 * by spaces (several during a rotation; a receiver accepts the delivery when any one verifies).
 */
export function signatureHeader(id: string, timestampSeconds: number, body: string, secrets: string[]): string {
  const signed = `${id}.${timestampSeconds}.${body}`;
  return secrets
    .map((secret) => `v1,${createHmac('sha256', secretKey(secret)).update(signed).digest('base64')}`)
    .join(' ');
}

/** Longest wait a receiver's Retry-After can impose before the next attempt. */
export const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, in milliseconds from `now`; null when absent or
 * unreadable; capped at MAX_RETRY_AFTER_MS so that a receiver cannot park a delivery for months.
 */
export function parseRetryAfter(header: string | undefined, now: number): number | null {
  if (header === undefined) return null;
  const value = header.trim();
  let ms: number;
  if (/^\d+$/.test(value)) ms = Number(value) * 1000;
  else {
    // An HTTP-date is an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); Date.parse alone would read `-5` as a year.
    if (!/^[A-Za-z]{3}, .* GMT$/.test(value)) return null;
    const date = Date.parse(value);
    if (Number.isNaN(date)) return null;
    ms = Math.max(0, date - now);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/**
 * Milliseconds until the next attempt after `attemptsMade` attempts failed, or null when the schedule is used up.
 * `schedule[i]` is the wait before attempt i + 1. A receiver's Retry-After (honoured on 429 and 503) can only
 * push the next attempt later, never earlier, and never past the schedule's end.
 */
export function nextAttemptDelay(schedule: readonly number[], attemptsMade: number, retryAfterMs: number | null) {
  if (attemptsMade >= schedule.length) return null;
  const scheduled = schedule[attemptsMade];
  return retryAfterMs === null ? scheduled : Math.max(scheduled, retryAfterMs);
}

/** Statuses whose Retry-After is honoured. */
export const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);
