/**
 * Card codes, PINs and serial numbers (README.md, "Issuance"; docs/decisions/0002-gf32-check-character.md): pure functions, no I/O besides the CSPRNG.
 *
 * - Code (卡密): 16 Crockford base-32 characters, 15 random (75 bits, each character exactly 5 bits of
 *   `crypto` randomness, so exactly uniform) and one check character, shown as `K7QD-9XMA-2HJR-5WPW`.
 *   The check character lets callers reject a mistyped code before any database read. It is a polynomial check
 *   over GF(32) (see `CHECK_POLYNOMIAL`), which catches every single-character substitution, every adjacent
 *   transposition, every jump transposition (abc → cba) and every twin error (aa → bb). The first design asked for
 *   Luhn mod 32, which misses `0Z` ↔ `Z0` at every position and every jump transposition; the GF(32) check is as
 *   cheap (a table lookup and an XOR per character) and has no such blind spot, so it replaces Luhn mod 32 here.
 * - PIN: 6 decimal digits by rejection sampling (no modulo bias), compared in constant time.
 * - Serial: the decimal card sequence number and a Luhn mod-10 check digit; the only card identifier an ERP,
 *   a log line, an event or an error may show.
 *
 * Issuance calls these a million times per order, so the hot paths work on char codes and lookup tables and
 * build each string in one `String.fromCharCode` call (flat one-byte strings, no per-character concatenation).
 */
import { randomFillSync, timingSafeEqual } from 'node:crypto';

/** Crockford base 32: digits and upper-case letters without I, L, O (read as 1, 1, 0) and U. */
export const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Characters in a code: 15 random and the check character. */
export const CODE_LENGTH = 16;
/** Random characters in a code (75 bits). */
export const CODE_RANDOM_CHARS = 15;
/** Bytes of randomness `codeFromRandom` reads: 80 bits, of which 75 are used and 5 dropped (keeps bytes aligned). */
export const CODE_RANDOM_BYTES = 10;
/** Digits in a PIN. */
export const PIN_LENGTH = 6;
/** Bytes of randomness `pinFromRandom` reads (one unsigned 32-bit word). */
export const PIN_RANDOM_BYTES = 4;

const RADIX = 32;
/** Code point → ASCII code of its character. */
const CHAR_OF = Uint8Array.from(CODE_ALPHABET, (c) => c.charCodeAt(0));
/**
 * GF(32) = GF(2)[x] / (x^5 + x^2 + 1): a code point v (5 bits) is the polynomial whose coefficients are its bits,
 * addition is XOR, and x^5 reduces to x^2 + 1 (binary 00101). The polynomial is irreducible (no root in GF(2), and
 * not divisible by x^2 + x + 1, the only irreducible quadratic), so this is a field.
 */
const CHECK_POLYNOMIAL = 0b100101;
/**
 * Multiplication by α = x in GF(32): shift left, and reduce when the result has a degree-5 term. A permutation of
 * 0..31 (α ≠ 0 is invertible), 0 ↦ 0.
 */
const MULX = Uint8Array.from({ length: RADIX }, (_, v) => (v < RADIX / 2 ? v << 1 : (v << 1) ^ CHECK_POLYNOMIAL));
const NOT_A_CODE_CHAR = -1;
const SEPARATOR = -2;
/** Char code (0..127) of a canonical code character → its code point; anything else → NOT_A_CODE_CHAR. */
const VALUE_OF = new Int8Array(128).fill(NOT_A_CODE_CHAR);
for (let v = 0; v < RADIX; v++) VALUE_OF[CHAR_OF[v]] = v;

/**
 * What `normaliseCode` makes of each ASCII character: a code point, SEPARATOR (dropped), or NOT_A_CODE_CHAR.
 * Crockford decoding: case-insensitive, O reads as 0, I and L as 1; U stays invalid (Crockford keeps it out so
 * that codes cannot spell common obscenities, and it is no look-alike of anything).
 */
const NORMALISED = new Int8Array(128).fill(NOT_A_CODE_CHAR);
for (let v = 0; v < RADIX; v++) {
  NORMALISED[CHAR_OF[v]] = v;
  NORMALISED[CODE_ALPHABET.toLowerCase().charCodeAt(v)] = v;
}
for (const [alias, digit] of [
  ['O', 0],
  ['o', 0],
  ['I', 1],
  ['i', 1],
  ['L', 1],
  ['l', 1],
] as const) {
  NORMALISED[alias.charCodeAt(0)] = digit;
}
// Whitespace, and the separators people and spreadsheets put into codes: hyphens (Crockford), underscores, dots.
for (const separator of ' \t\n\v\f\r-_.') NORMALISED[separator.charCodeAt(0)] = SEPARATOR;

/**
 * Non-ASCII separators that survive NFKC: dashes and the minus sign, middle dots (· and the CJK ・), soft hyphen,
 * and the zero-width characters that copy-paste from chat apps and PDFs leaves behind. NFKC already turned
 * full-width forms (Ａ, ０, －, the ideographic space) into ASCII, so these are all that is left to drop.
 */
const UNICODE_SEPARATOR = /^[\s\u00ad\u00b7\u2010-\u2015\u2027\u2212\u30fb\u200b-\u200d\u2060\ufeff]$/u;
/** Longer input is not a mistyped code (16 characters and generous spacing fit well below). */
const MAX_CODE_INPUT = 64;

/**
 * The check over GF(32): the `length` code points c_0 … c_{n−1} read by `valueAt` are the coefficients of
 * c_0·α^(n−1) + … + c_{n−2}·α + c_{n−1}, evaluated at α by Horner's rule (s ← α·s ⊕ c_i).
 *
 * A whole code (16 characters) is valid when its value is 0. For a body (15 characters) with value s, appending a
 * check character c gives α·s ⊕ c, which is 0 for c = α·s: the check character is MULX[s]. (It is uniform, as s
 * is: the last body character adds an independent uniform term.)
 *
 * What it guarantees, with weight α^k at the k-th character from the right (all non-zero, and α + 1 ≠ 0 too):
 * - a substitution a → b changes the value by (a ⊕ b)·α^k ≠ 0;
 * - an adjacent transposition ab → ba by (a ⊕ b)·α^k·(α + 1) ≠ 0;
 * - a jump transposition abc → cba by (a ⊕ c)·α^k·(α + 1)^2 ≠ 0;
 * - a twin error aa → bb by (a ⊕ b)·α^k·(α + 1) ≠ 0;
 * a product of non-zero field elements being non-zero, each of these is caught, for every a ≠ b and position.
 * Two unrelated substitutions go unnoticed with probability 1/32, as with any single check character.
 *
 * Luhn mod 32 (what the first design named) adds the doubled and the plain characters mod 32 instead: it misses the
 * adjacent transposition 0Z ↔ Z0 (both 0 and 31 add the same doubled or not, like Luhn's 09 ↔ 90) and every jump
 * transposition (same weight), which is why it was replaced.
 */
function gf32Check(valueAt: (i: number) => number, length: number): number {
  let s = 0;
  for (let i = 0; i < length; i++) s = MULX[s] ^ valueAt(i);
  return s;
}

/**
 * A code from 10 bytes of `random` at `offset` (CODE_RANDOM_BYTES): character k takes bits 5k..5k+4 of the 80,
 * read big-endian, so 15 characters use 75 bits, each an exact 5-bit field (no modulo, no bias); the last 5 bits
 * are dropped. Deterministic, for tests and for callers that bring their own CSPRNG block.
 */
export function codeFromRandom(random: Uint8Array, offset: number): string {
  if (!Number.isInteger(offset) || offset < 0 || offset + CODE_RANDOM_BYTES > random.length) {
    throw new RangeError(`codeFromRandom needs ${CODE_RANDOM_BYTES} bytes from the offset`);
  }
  return unsafeCodeFromRandom(random, offset);
}

/** codeFromRandom without the bounds check (the batch loop guarantees it); written out because it is the hot path. */
function unsafeCodeFromRandom(r: Uint8Array, o: number): string {
  // Two 40-bit groups, each read as a 32-bit word (>>> 0: unsigned) and one byte: 8 characters per group.
  const x = ((r[o] << 24) | (r[o + 1] << 16) | (r[o + 2] << 8) | r[o + 3]) >>> 0;
  const y = r[o + 4];
  const z = ((r[o + 5] << 24) | (r[o + 6] << 16) | (r[o + 7] << 8) | r[o + 8]) >>> 0;
  const w = r[o + 9];
  const c0 = x >>> 27;
  const c1 = (x >>> 22) & 31;
  const c2 = (x >>> 17) & 31;
  const c3 = (x >>> 12) & 31;
  const c4 = (x >>> 7) & 31;
  const c5 = (x >>> 2) & 31;
  const c6 = ((x & 3) << 3) | (y >>> 5);
  const c7 = y & 31;
  const c8 = z >>> 27;
  const c9 = (z >>> 22) & 31;
  const c10 = (z >>> 17) & 31;
  const c11 = (z >>> 12) & 31;
  const c12 = (z >>> 7) & 31;
  const c13 = (z >>> 2) & 31;
  const c14 = ((z & 3) << 3) | (w >>> 5); // w & 31: the 5 dropped bits
  // gf32Check unrolled (Horner over c0 … c14), then the check character α·s.
  let s = MULX[c0] ^ c1;
  s = MULX[s] ^ c2;
  s = MULX[s] ^ c3;
  s = MULX[s] ^ c4;
  s = MULX[s] ^ c5;
  s = MULX[s] ^ c6;
  s = MULX[s] ^ c7;
  s = MULX[s] ^ c8;
  s = MULX[s] ^ c9;
  s = MULX[s] ^ c10;
  s = MULX[s] ^ c11;
  s = MULX[s] ^ c12;
  s = MULX[s] ^ c13;
  s = MULX[s] ^ c14;
  const check = MULX[s];
  // prettier-ignore
  return String.fromCharCode(
    CHAR_OF[c0], CHAR_OF[c1], CHAR_OF[c2], CHAR_OF[c3], CHAR_OF[c4], CHAR_OF[c5], CHAR_OF[c6], CHAR_OF[c7],
    CHAR_OF[c8], CHAR_OF[c9], CHAR_OF[c10], CHAR_OF[c11], CHAR_OF[c12], CHAR_OF[c13], CHAR_OF[c14], CHAR_OF[check],
  );
}

/** Codes per randomness block: 640 KiB per `randomFillSync`, one C++ call per 65,536 codes. */
const CODES_PER_BLOCK = 65_536;

function assertCount(count: number, what: string): void {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`${what}: count must be a non-negative integer`);
}

/**
 * `count` fresh codes (canonical, unformatted), drawing `crypto` randomness in blocks. Uniqueness is the
 * database's job (the unique blind index): 75 random bits make a clash rare, not impossible.
 */
export function generateCodes(count: number): string[] {
  assertCount(count, 'generateCodes');
  const codes = new Array<string>(count);
  const random = Buffer.allocUnsafe(Math.min(count, CODES_PER_BLOCK) * CODE_RANDOM_BYTES);
  let offset = random.length;
  for (let i = 0; i < count; i++, offset += CODE_RANDOM_BYTES) {
    if (offset === random.length) {
      randomFillSync(random);
      offset = 0;
    }
    codes[i] = unsafeCodeFromRandom(random, offset);
  }
  // These bytes are the codes: do not leave them in freed memory (or in Node's shared pool for small counts).
  random.fill(0);
  return codes;
}

/** The check character for a 15-character canonical body; throws RangeError for anything else. */
export function checkCharacter(body: string): string {
  if (body.length !== CODE_RANDOM_CHARS || !isCanonical(body)) {
    throw new RangeError(`a code body is ${CODE_RANDOM_CHARS} characters of the Crockford base-32 alphabet`);
  }
  return CODE_ALPHABET[MULX[gf32Check((i) => VALUE_OF[body.charCodeAt(i)], CODE_RANDOM_CHARS)]];
}

function isCanonical(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const cc = s.charCodeAt(i);
    if (cc >= 128 || VALUE_OF[cc] === NOT_A_CODE_CHAR) return false;
  }
  return true;
}

/**
 * Whether `normalised` is a code: 16 characters of the canonical alphabet (upper case, no separators: pass user
 * input through `normaliseCode` first) with a correct check character. No database needed.
 */
export function isValidCode(normalised: string): boolean {
  if (typeof normalised !== 'string' || normalised.length !== CODE_LENGTH) return false;
  let s = 0;
  for (let i = 0; i < CODE_LENGTH; i++) {
    const cc = normalised.charCodeAt(i);
    const v = cc < 128 ? VALUE_OF[cc] : NOT_A_CODE_CHAR;
    if (v === NOT_A_CODE_CHAR) return false;
    s = MULX[s] ^ v; // gf32Check inline: Horner's rule, the check character last
  }
  return s === 0;
}

/**
 * `isValidCode` on the 16 ASCII bytes at `offset` of `bytes` (an opened envelope in a scratch buffer): the export
 * checks every card's code without making a string of it first.
 */
export function isValidCodeAt(bytes: Uint8Array, offset: number): boolean {
  if (offset < 0 || offset + CODE_LENGTH > bytes.length) return false;
  let s = 0;
  for (let i = offset; i < offset + CODE_LENGTH; i++) {
    const cc = bytes[i];
    const v = cc < 128 ? VALUE_OF[cc] : NOT_A_CODE_CHAR;
    if (v === NOT_A_CODE_CHAR) return false;
    s = MULX[s] ^ v;
  }
  return s === 0;
}

/**
 * User input → the 16 canonical characters, or null when it cannot be a code (wrong length, a character that is
 * in no reading of the alphabet, such as U). Full-width input from a Chinese IME is folded by NFKC; letters are
 * upper-cased; O reads as 0, I and L as 1; spaces, hyphens, underscores, dots, middle dots and zero-width
 * characters are dropped. Does not check the check character: `isValidCode` (or `parseCode`) does.
 */
export function normaliseCode(input: string): string | null {
  if (typeof input !== 'string' || input.length > MAX_CODE_INPUT) return null;
  let text = input;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 128) {
      text = text.normalize('NFKC');
      if (text.length > MAX_CODE_INPUT) return null;
      break;
    }
  }
  const out = new Array<number>(CODE_LENGTH);
  let n = 0;
  for (const ch of text) {
    const cc = ch.charCodeAt(0);
    const v = cc < 128 ? NORMALISED[cc] : UNICODE_SEPARATOR.test(ch) ? SEPARATOR : NOT_A_CODE_CHAR;
    if (v === SEPARATOR) continue;
    if (v === NOT_A_CODE_CHAR || n === CODE_LENGTH) return null;
    out[n++] = CHAR_OF[v];
  }
  return n === CODE_LENGTH ? String.fromCharCode(...out) : null;
}

/** normaliseCode, then the check character: the canonical code, or null for anything that is not a valid code. */
export function parseCode(input: string): string | null {
  const code = normaliseCode(input);
  return code !== null && isValidCode(code) ? code : null;
}

/** `K7QD9XMA2HJR5WPT` → `K7QD-9XMA-2HJR-5WPT`, the form shown to holders (normaliseCode reads it back). */
export function formatCode(code: string): string {
  // The message must not quote the argument: it might be a code.
  if (code.length !== CODE_LENGTH) throw new RangeError(`a card code has ${CODE_LENGTH} characters`);
  return `${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8, 12)}-${code.slice(12, 16)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// PINs
// ---------------------------------------------------------------------------------------------------------------

const PIN_RANGE = 10 ** PIN_LENGTH;
/**
 * Largest multiple of 10^6 that fits in 32 bits (4,294,000,000): words from here up are rejected, so that
 * word mod 10^6 is exactly uniform. Rejection probability 967,296 / 2^32 ≈ 0.023 %.
 */
export const PIN_WORD_LIMIT = Math.floor(2 ** 32 / PIN_RANGE) * PIN_RANGE;
/** Zero-padded 000..999: a PIN is two of them, concatenated into a flat 6-character string. */
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * A PIN from the big-endian 32-bit word at `offset` (PIN_RANDOM_BYTES), or null when the word falls in the
 * rejected tail (draw another). Deterministic, for tests and for callers that bring their own CSPRNG block.
 */
export function pinFromRandom(random: Uint8Array, offset: number): string | null {
  if (!Number.isInteger(offset) || offset < 0 || offset + PIN_RANDOM_BYTES > random.length) {
    throw new RangeError(`pinFromRandom needs ${PIN_RANDOM_BYTES} bytes from the offset`);
  }
  return unsafePinFromRandom(random, offset);
}

function unsafePinFromRandom(r: Uint8Array, o: number): string | null {
  const word = ((r[o] << 24) | (r[o + 1] << 16) | (r[o + 2] << 8) | r[o + 3]) >>> 0;
  if (word >= PIN_WORD_LIMIT) return null;
  const pin = word % PIN_RANGE;
  return THREE_DIGITS[Math.floor(pin / 1000)] + THREE_DIGITS[pin % 1000];
}

/** PINs per randomness block; a few spare words per block cover the rare rejections without a second fill. */
const PINS_PER_BLOCK = 65_536;

/** `count` uniformly distributed 6-digit PINs (leading zeros kept), drawing `crypto` randomness in blocks. */
export function generatePins(count: number): string[] {
  assertCount(count, 'generatePins');
  const pins = new Array<string>(count);
  const random = Buffer.allocUnsafe((Math.min(count, PINS_PER_BLOCK) + 16) * PIN_RANDOM_BYTES);
  let offset = random.length;
  for (let i = 0; i < count; offset += PIN_RANDOM_BYTES) {
    if (offset === random.length) {
      randomFillSync(random);
      offset = 0;
    }
    const pin = unsafePinFromRandom(random, offset);
    if (pin !== null) pins[i++] = pin;
  }
  random.fill(0);
  return pins;
}

const PIN_FORMAT = /^\d{6}$/;

/** Whether `pin` is 6 ASCII digits. */
export function isValidPin(pin: string): boolean {
  return typeof pin === 'string' && PIN_FORMAT.test(pin);
}

/**
 * Constant-time PIN comparison (no early exit on the first differing digit, which would let a caller find a PIN
 * digit by digit from response times). Different lengths are unequal; the comparison still runs (against itself)
 * so that even a length mismatch takes the same path, although a PIN's length is public anyway.
 */
export function pinMatches(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  const sameLength = left.length === right.length;
  return timingSafeEqual(left, sameLength ? right : left) && sameLength;
}

// ---------------------------------------------------------------------------------------------------------------
// Serial numbers
// ---------------------------------------------------------------------------------------------------------------

/** Card sequences are Postgres bigints. */
const MAX_SEQUENCE = 2n ** 63n - 1n;
/** A serial: the sequence number without leading zeros (one spelling per card) and the check digit. */
const SERIAL_FORMAT = /^(?:0|[1-9]\d{0,18})\d$/;
/** Luhn doubling in base 10: 2d with its digits summed. */
const DOUBLED_DIGIT = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9] as const;

/** Luhn mod 10 over the digits of `s` (char codes 48..57), rightmost doubled when `rightmostDoubled`. */
function luhn10(s: string, rightmostDoubled: boolean): number {
  let sum = 0;
  for (let i = s.length - 1, doubled = rightmostDoubled; i >= 0; i--, doubled = !doubled) {
    const d = s.charCodeAt(i) - 48;
    sum += doubled ? DOUBLED_DIGIT[d] : d;
  }
  return sum % 10;
}

/**
 * The public serial of the card with sequence number `n`: its decimal digits and a Luhn check digit, e.g.
 * 7992739871 → `79927398713`. Catches every single-digit error and every adjacent transposition but 09 ↔ 90.
 */
export function serialFromSequence(n: bigint | number): string {
  if (typeof n === 'number' ? !Number.isSafeInteger(n) || n < 0 : n < 0n || n > MAX_SEQUENCE) {
    throw new RangeError('a card sequence number is a non-negative integer below 2^63');
  }
  const payload = n.toString();
  return payload + String((10 - luhn10(payload, true)) % 10);
}

/**
 * Whether `s` is a serial as serialFromSequence writes it: digits, no leading zero, a correct check digit, and a
 * sequence number that fits a bigint (a larger one would reach Postgres as an out-of-range error).
 */
export function isValidSerial(s: string): boolean {
  return (
    typeof s === 'string' && SERIAL_FORMAT.test(s) && luhn10(s, false) === 0 && BigInt(s.slice(0, -1)) <= MAX_SEQUENCE
  );
}
