import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * Dynamic payment codes (付款码; docs/decisions/0010-payment-codes-and-risk-rules.md): 18 digits, as the POS
 * scanners read mobile-payment codes.
 *
 *   `68` | key number (9 digits) | one-time password (7 digits)
 *
 * The key number names the card's (or wallet's) payment-code key, so that a code resolves to it without a search;
 * the one-time password is RFC 6238 style: HMAC-SHA-256 of a counter under the key's own secret, dynamically
 * truncated (RFC 4226 §5.3) to 7 digits. The counter is the time step (window) and the key's count of codes spent
 * so far: a code spent in a window is followed by a new one in the same window, and no code is ever valid again
 * once spent. Without the secret, earlier codes say nothing about the next one.
 */
export const PAYMENT_CODE_PREFIX = '68';
export const PAYMENT_CODE_LENGTH = 18;
const NUMBER_DIGITS = 9;
const OTP_DIGITS = 7;
const OTP_MODULUS = 10 ** OTP_DIGITS;
/** Key numbers are random in [10^8, 10^9): nine digits, none with a leading zero, none telling how many exist. */
const FIRST_KEY_NUMBER = 100_000_000;
const KEY_NUMBER_END = 1_000_000_000;
export const PAYMENT_CODE_SECRET_BYTES = 32;

/** A fresh random key number (the caller retries on the rare collision). */
export function newPaymentKeyNumber(): number {
  return randomInt(FIRST_KEY_NUMBER, KEY_NUMBER_END);
}

/** A fresh per-key secret. */
export function newPaymentCodeSecret(): Buffer {
  return randomBytes(PAYMENT_CODE_SECRET_BYTES);
}

/** The window (time step) a moment falls in. */
export function paymentCodeStep(atMs: number, windowSeconds: number): number {
  return Math.floor(atMs / (windowSeconds * 1000));
}

/** The one-time password of a key for (step, uses): 7 digits, zero-padded. */
export function paymentCodeOtp(secret: Buffer, step: number, uses: number): string {
  const counter = Buffer.alloc(16);
  counter.writeBigUInt64BE(BigInt(step), 0);
  counter.writeBigUInt64BE(BigInt(uses), 8);
  const mac = createHmac('sha256', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const truncated = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(truncated % OTP_MODULUS).padStart(OTP_DIGITS, '0');
}

/** The whole 18-digit code. */
export function paymentCodeOf(keyNumber: number, secret: Buffer, step: number, uses: number): string {
  return `${PAYMENT_CODE_PREFIX}${String(keyNumber).padStart(NUMBER_DIGITS, '0')}${paymentCodeOtp(secret, step, uses)}`;
}

/**
 * A code grouped for a person to read or type, as payment apps show theirs: `68 1234 5678 9012 3456` (the prefix,
 * then groups of four). The POS reads the digits alone (the QR code carries them; parsePaymentCode drops spaces).
 */
export function groupPaymentCode(code: string): string {
  return `${code.slice(0, PAYMENT_CODE_PREFIX.length)} ${code.slice(PAYMENT_CODE_PREFIX.length).replace(/(\d{4})(?=\d)/g, '$1 ')}`;
}

/** A code's parts, or null when the text is not a payment code (length, digits, prefix). */
export function parsePaymentCode(text: string): { keyNumber: number; otp: string } | null {
  const code = text.replace(/[\s-]/g, '');
  if (code.length !== PAYMENT_CODE_LENGTH || !/^\d+$/.test(code) || !code.startsWith(PAYMENT_CODE_PREFIX)) {
    return null;
  }
  const keyNumber = Number(code.slice(PAYMENT_CODE_PREFIX.length, PAYMENT_CODE_PREFIX.length + NUMBER_DIGITS));
  if (keyNumber < FIRST_KEY_NUMBER) return null;
  return { keyNumber, otp: code.slice(PAYMENT_CODE_PREFIX.length + NUMBER_DIGITS) };
}

function sameOtp(a: string, b: string): boolean {
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * Whether `otp` is the key's code for its current count of uses in the window `step` or the one before (clock skew
 * and the time the code takes from screen to scanner: the previous window only). Answers the window it was made for.
 */
export function matchPaymentCode(
  secret: Buffer,
  otp: string,
  uses: number,
  step: number,
): 'current' | 'previous' | null {
  if (sameOtp(paymentCodeOtp(secret, step, uses), otp)) return 'current';
  if (sameOtp(paymentCodeOtp(secret, step - 1, uses), otp)) return 'previous';
  return null;
}

/** How far back a refused code is recognised, to say `expired` or `used` rather than `invalid`. */
export const RECOGNISED_PAST_WINDOWS = 10;

/**
 * Why a code that does not match now is refused: `used` when it was the key's code for the count of uses before
 * the current one within the last windows; `expired` when it is the key's current code from an older window;
 * `invalid` otherwise (wrong digits, or older than RECOGNISED_PAST_WINDOWS).
 */
export function refusalOf(secret: Buffer, otp: string, uses: number, step: number): 'used' | 'expired' | 'invalid' {
  for (let back = 0; back <= RECOGNISED_PAST_WINDOWS; back++) {
    if (uses > 0 && sameOtp(paymentCodeOtp(secret, step - back, uses - 1), otp)) return 'used';
  }
  for (let back = 2; back <= RECOGNISED_PAST_WINDOWS; back++) {
    if (sameOtp(paymentCodeOtp(secret, step - back, uses), otp)) return 'expired';
  }
  return 'invalid';
}
