/**
 * The unified social credit code (统一社会信用代码) of GB 32100-2015: 18 characters,
 *
 *   1      registration authority (登记管理部门代码, e.g. 9 market regulation, 5 civil affairs)
 *   2      entity type within that authority (机构类别代码, e.g. 1 enterprise)
 *   3–8    administrative division of the registering office (GB/T 2260, six digits)
 *   9–17   subject identifier (the former organisation code)
 *   18     check character over the first 17, mod 31
 *
 * The authority and type tables grow over time (A and N were added after 2015), so
 * positions 1–2 only have to be non-zero characters of the alphabet; the check
 * character is what catches typos.
 */

/** 0–9 and the capital letters without I, O, Z, S, V: character value = index. */
export const CREDIT_CODE_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;

const CHARS = '[0-9A-HJ-NPQRTUWXY]';
const NON_ZERO = '[1-9A-HJ-NPQRTUWXY]';

/** Structure without the check: authority, type, six-digit division (never starting with 0), 9 + 1 code characters. */
const FORMAT = new RegExp(`^${NON_ZERO}${NON_ZERO}[1-9][0-9]{5}${CHARS}{10}$`);

/** Trimmed and upper-cased: how users type codes copied from a business licence. */
export function normaliseCreditCode(input: string): string {
  return input.trim().toUpperCase();
}

/**
 * The check character (position 18) for the first 17 characters of a code.
 * Throws when given anything but 17 (or 18) characters of the alphabet.
 */
export function creditCodeCheckCharacter(code: string): string {
  if (code.length !== 17 && code.length !== 18) throw new RangeError('A credit code body has 17 characters');
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const value = CREDIT_CODE_ALPHABET.indexOf(code[i]);
    if (value < 0) throw new RangeError(`'${code[i]}' is not a credit-code character`);
    sum += value * WEIGHTS[i];
  }
  return CREDIT_CODE_ALPHABET[(31 - (sum % 31)) % 31];
}

/** Right length, alphabet and structure; says nothing about the check character. */
export function isWellFormedCreditCode(code: string): boolean {
  return FORMAT.test(code);
}

/** A well-formed code whose check character matches; the input is normalised first. */
export function isValidCreditCode(input: string): boolean {
  const code = normaliseCreditCode(input);
  return isWellFormedCreditCode(code) && creditCodeCheckCharacter(code) === code[17];
}
