import fc from 'fast-check';
import {
  CREDIT_CODE_ALPHABET,
  creditCodeCheckCharacter,
  isValidCreditCode,
  isWellFormedCreditCode,
  normaliseCreditCode,
} from './credit-code';

/** Codes printed on real business licences / published registrations. */
const PUBLISHED = [
  '91350100M000100Y43', // the example code of GB 32100-2015 explanations
  '91330100799655058B', // Alibaba (China) Co., Ltd.
  '91440300708461136T', // Shenzhen Tencent Computer Systems Co., Ltd.
  '914403001922038216', // Huawei Technologies Co., Ltd.
  '91110000710925462X', // PetroChina Co., Ltd.
  '91110108558521630L', // Xiaomi Communications Co., Ltd.
  '91330201MA282UF146',
  '91330401MA28ADM67R',
  '91310000MA1FL1MMXL',
  '53100000500021676K', // a national foundation (civil affairs, type 3)
];

/** Bodies of our own making, completed with the computed check character. */
const CONSTRUCTED_BODIES = [
  '91350100M000100Y4',
  '12100000400000345',
  '11100000000013127',
  'Y1110000MA00ABCDE',
  'N2350102123456789',
];

const body = fc
  .tuple(
    fc.constantFrom(...CREDIT_CODE_ALPHABET.slice(1)),
    fc.constantFrom(...CREDIT_CODE_ALPHABET.slice(1)),
    fc.integer({ min: 100000, max: 999999 }),
    fc.array(fc.constantFrom(...CREDIT_CODE_ALPHABET), { minLength: 9, maxLength: 9 }),
  )
  .map(([authority, type, division, subject]) => `${authority}${type}${division}${subject.join('')}`);

const validCode = body.map((b) => b + creditCodeCheckCharacter(b));

describe('creditCodeCheckCharacter', () => {
  it.each(PUBLISHED)('gives the printed check character of %s', (code) => {
    expect(creditCodeCheckCharacter(code.slice(0, 17))).toBe(code[17]);
  });

  it('accepts a full code and looks only at its first 17 characters', () => {
    expect(creditCodeCheckCharacter('91350100M000100Y4Q')).toBe('3');
  });

  it('refuses bodies of the wrong length or with characters outside the alphabet', () => {
    expect(() => creditCodeCheckCharacter('9135010')).toThrow(RangeError);
    expect(() => creditCodeCheckCharacter('91350100M000100I4')).toThrow(RangeError);
  });

  it('maps a weighted sum of 0 to the character 0', () => {
    expect(creditCodeCheckCharacter('0'.repeat(17))).toBe('0');
  });
});

describe('isValidCreditCode', () => {
  it.each(PUBLISHED)('accepts the published code %s', (code) => {
    expect(isValidCreditCode(code)).toBe(true);
  });

  it.each(CONSTRUCTED_BODIES)('accepts %s completed with its computed check character', (b) => {
    expect(isValidCreditCode(b + creditCodeCheckCharacter(b))).toBe(true);
  });

  it('rejects a code whose check character is wrong (911100001000180394 should end in A)', () => {
    expect(creditCodeCheckCharacter('91110000100018039')).toBe('A');
    expect(isValidCreditCode('911100001000180394')).toBe(false);
    expect(isValidCreditCode('91110000100018039A')).toBe(true);
  });

  it('rejects every single-character substitution of a valid code', () => {
    for (const code of PUBLISHED) {
      for (let position = 0; position < 18; position++) {
        for (const replacement of CREDIT_CODE_ALPHABET) {
          if (replacement === code[position]) continue;
          const altered = code.slice(0, position) + replacement + code.slice(position + 1);
          expect([altered, isValidCreditCode(altered)]).toEqual([altered, false]);
        }
      }
    }
  });

  it('accepts lower case and surrounding whitespace after normalisation', () => {
    expect(normaliseCreditCode('  91350100m000100y43\n')).toBe('91350100M000100Y43');
    expect(isValidCreditCode('91350100m000100y43')).toBe(true);
    expect(isValidCreditCode(' 91110000710925462x ')).toBe(true);
  });

  it.each([
    ['too short', '91350100M000100Y4'],
    ['too long', '91350100M000100Y433'],
    ['empty', ''],
    ['inner space', '91350100M000 100Y43'],
    ['letter I', '91350100M000100I43'],
    ['letter O', '9135010OM000100Y43'],
    ['letter Z, S or V', '91350100MZSV100Y43'],
    ['authority 0', '01350100M000100Y43'],
    ['type 0', '90350100M000100Y43'],
    ['letter in the division', '9135A100M000100Y43'],
    ['division starting with 0', '91050100M000100Y43'],
  ])('rejects a malformed code (%s)', (_label, code) => {
    expect(isWellFormedCreditCode(normaliseCreditCode(code))).toBe(false);
    expect(isValidCreditCode(code)).toBe(false);
  });

  it('property: a well-formed body plus its check character is valid', () => {
    fc.assert(fc.property(validCode, (code) => isValidCreditCode(code) && isValidCreditCode(code.toLowerCase())));
  });

  it('property: any single substitution is detected', () => {
    fc.assert(
      fc.property(validCode, fc.nat(17), fc.constantFrom(...CREDIT_CODE_ALPHABET), (code, position, replacement) => {
        fc.pre(code[position] !== replacement);
        return !isValidCreditCode(code.slice(0, position) + replacement + code.slice(position + 1));
      }),
    );
  });

  it('property: swapping two different adjacent characters is detected', () => {
    fc.assert(
      fc.property(validCode, fc.nat(16), (code, position) => {
        fc.pre(code[position] !== code[position + 1]);
        const swapped = code.slice(0, position) + code[position + 1] + code[position] + code.slice(position + 2);
        return !isValidCreditCode(swapped);
      }),
    );
  });
});
