import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import {
  CODE_ALPHABET,
  CODE_LENGTH,
  CODE_RANDOM_BYTES,
  CODE_RANDOM_CHARS,
  checkCharacter,
  codeFromRandom,
  formatCode,
  generateCodes,
  generatePins,
  isValidCode,
  isValidCodeAt,
  isValidPin,
  isValidSerial,
  normaliseCode,
  parseCode,
  PIN_LENGTH,
  PIN_WORD_LIMIT,
  pinFromRandom,
  pinMatches,
  serialFromSequence,
} from './card-code';

// ---------------------------------------------------------------------------------------------------------------
// References, written from the textbook descriptions and independently of the implementation (no tables)
// ---------------------------------------------------------------------------------------------------------------

const N = 32;
/** x^5 + x^2 + 1, the modulus of GF(32) = GF(2)[x] / (x^5 + x^2 + 1). */
const MODULUS = 0b100101;

/** Multiplication in GF(32), from the definition: carry-less product of the bit polynomials, reduced mod x^5+x^2+1. */
function gfMul(a: number, b: number): number {
  let product = 0;
  for (let bit = 0; bit < 5; bit++) if (b & (1 << bit)) product ^= a << bit;
  for (let degree = 8; degree >= 5; degree--) if (product & (1 << degree)) product ^= MODULUS << (degree - 5);
  return product;
}

/** α^k, α = x (binary 00010), by repeated multiplication. */
function alphaPower(k: number): number {
  let power = 1;
  for (let i = 0; i < k; i++) power = gfMul(power, 2);
  return power;
}

/** α^0 … α^15, the weights of the 16 positions from the right. */
const WEIGHTS = Array.from({ length: CODE_LENGTH }, (_, k) => alphaPower(k));

/** Σ c_i·α^(n−1−i) over the code points of `s` (the rightmost character has weight 1), or −1 for a foreign char. */
function referenceValue(s: string): number {
  let value = 0;
  for (let i = 0; i < s.length; i++) {
    const c = CODE_ALPHABET.indexOf(s[i]);
    if (c < 0) return -1;
    value ^= gfMul(c, WEIGHTS[s.length - 1 - i]);
  }
  return value;
}

/** A code is valid when its polynomial value is 0. */
function referenceValid(code: string): boolean {
  return referenceValue(code) === 0;
}

/** The check character, by search: the one character that makes body + character valid. */
function referenceCheck(body: string): string {
  const fits = [...CODE_ALPHABET].filter((c) => referenceValid(body + c));
  if (fits.length !== 1) throw new Error(`expected exactly one check character, found ${fits.length}`);
  return fits[0];
}

/** The 80 bits of the bytes as a string of 0/1, most significant first; character k is bits 5k..5k+4. */
function referenceCodeFromRandom(bytes: Uint8Array): string {
  const bits = Array.from(bytes, (b) => b.toString(2).padStart(8, '0')).join('');
  let body = '';
  for (let k = 0; k < CODE_RANDOM_CHARS; k++) body += CODE_ALPHABET[parseInt(bits.slice(5 * k, 5 * k + 5), 2)];
  return body + referenceCheck(body);
}

/** Luhn mod 10 validation (rightmost digit is the check digit and counts once). */
function referenceLuhn10(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, k = 0; i >= 0; i--, k++) {
    const d = Number(digits[i]) * (k % 2 === 1 ? 2 : 1);
    sum += d > 9 ? d - 9 : d;
  }
  return sum % 10 === 0;
}

const swapAt = (s: string, i: number) => s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
const replaceAt = (s: string, i: number, c: string) => s.slice(0, i) + c + s.slice(i + 1);

/** Codes from fast-check's bytes through the real mapping: shrinkable, and covering every input. */
const code = fc
  .uint8Array({ minLength: CODE_RANDOM_BYTES, maxLength: CODE_RANDOM_BYTES })
  .map((b) => codeFromRandom(b, 0));

/** Pearson's χ² of observed counts against a uniform expectation. */
function chiSquare(counts: ArrayLike<number>, total: number): number {
  const expected = total / counts.length;
  let statistic = 0;
  for (let i = 0; i < counts.length; i++) statistic += (counts[i] - expected) ** 2 / expected;
  return statistic;
}

/**
 * Upper quantiles of χ² with 31 degrees of freedom (32 characters), computed with scipy.stats.chi2.ppf:
 * - p = 0.001: 61.098 (the threshold for one position tested once);
 * - p = 0.001 / 16 = 6.25e-5: 70.665 (Bonferroni over the 16 positions of a live batch, see below).
 */
const CHI2_31_P001 = 61.1;
/**
 * Tests on live randomness run in every CI build, so their false-alarm rate must be negligible: family-wise
 * p = 1e-6 (Wilson–Hilferty quantiles: χ²(31) at 1e-6 / 16 ≈ 92.7, χ²(9) at 1e-6 / 6 ≈ 50.6), with samples large
 * enough (LIVE_SAMPLE) that a 10 % over-frequent character still adds several hundred and always fails. Exact
 * uniformity is asserted deterministically on a fixed stream at p = 0.001 (CHI2_31_P001).
 */
const CHI2_31_P1E6_BONFERRONI_16 = 92.7;
const CHI2_9_P1E6_BONFERRONI_6 = 50.6;
const LIVE_SAMPLE = 800_000;

/** Counts of each character at each of the 16 positions. */
function positionCounts(codes: readonly string[]): Uint32Array[] {
  const counts = Array.from({ length: CODE_LENGTH }, () => new Uint32Array(N));
  for (const c of codes) for (let p = 0; p < CODE_LENGTH; p++) counts[p][CODE_ALPHABET.indexOf(c[p])]++;
  return counts;
}

const SAMPLE = 200_000;

describe('card codes', () => {
  it('uses the Crockford alphabet: 32 symbols, no I, L, O, U', () => {
    expect(CODE_ALPHABET).toHaveLength(32);
    expect(new Set(CODE_ALPHABET).size).toBe(32);
    expect(CODE_ALPHABET).toBe([...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'].filter((c) => !'ILOU'.includes(c)).join(''));
  });

  it('maps 10 random bytes to 15 five-bit characters, big-endian, and the GF(32) check character', () => {
    expect(codeFromRandom(new Uint8Array(10), 0)).toBe('0000000000000000');
    // 15 × Z (31): the check is 31·(α + α^2 + … + α^15) = 31·20 = 21 = "N" in GF(32) (checked independently in Python).
    expect(codeFromRandom(new Uint8Array(10).fill(0xff), 0)).toBe('ZZZZZZZZZZZZZZZN');
    // Golden vector: bytes 00 01 02 … 09.
    expect(
      codeFromRandom(
        Uint8Array.from({ length: 10 }, (_, i) => i),
        0,
      ),
    ).toBe(referenceCodeFromRandom(Uint8Array.from({ length: 10 }, (_, i) => i)));
    expect(
      codeFromRandom(
        Uint8Array.from({ length: 10 }, (_, i) => i),
        0,
      ),
    ).toBe('000G40R40M30E200');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 30 }), fc.nat(20), (bytes, at) => {
        fc.pre(at + 10 <= bytes.length);
        expect(codeFromRandom(bytes, at)).toBe(referenceCodeFromRandom(bytes.subarray(at, at + 10)));
      }),
      { numRuns: 2000 },
    );
    expect(() => codeFromRandom(new Uint8Array(9), 0)).toThrow(RangeError);
    expect(() => codeFromRandom(new Uint8Array(20), 11)).toThrow(RangeError);
  });

  it('is exactly uniform by construction: each random position is a bijection of its own 5 input bits', () => {
    // If every position reads a disjoint set of 5 bits and maps their 32 values one-to-one onto the alphabet,
    // then uniform, independent input bits give uniform, independent characters: no χ² needed. Checked over random
    // backgrounds, so no position secretly depends on a bit outside its field.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 10 }), (background) => {
        const base = codeFromRandom(background, 0);
        const readBy = new Map<number, number[]>();
        for (let bit = 0; bit < 80; bit++) {
          const flipped = Uint8Array.from(background);
          flipped[bit >> 3] ^= 0x80 >> (bit & 7);
          const other = codeFromRandom(flipped, 0);
          const changed = [...Array(CODE_RANDOM_CHARS).keys()].filter((p) => other[p] !== base[p]);
          expect(changed.length).toBeLessThanOrEqual(1);
          if (changed.length === 1) readBy.set(changed[0], [...(readBy.get(changed[0]) ?? []), bit]);
          else expect(bit).toBeGreaterThanOrEqual(75); // only the last 5 bits are unused
        }
        for (let p = 0; p < CODE_RANDOM_CHARS; p++) {
          expect(readBy.get(p)).toEqual([5 * p, 5 * p + 1, 5 * p + 2, 5 * p + 3, 5 * p + 4]);
          const seen = new Set<string>();
          for (let value = 0; value < 32; value++) {
            const bytes = Uint8Array.from(background);
            for (let k = 0; k < 5; k++) {
              const bit = 5 * p + k;
              const mask = 0x80 >> (bit & 7);
              bytes[bit >> 3] = value & (16 >> k) ? bytes[bit >> 3] | mask : bytes[bit >> 3] & ~mask;
            }
            seen.add(codeFromRandom(bytes, 0)[p]);
          }
          expect(seen.size).toBe(32);
        }
      }),
      { numRuns: 30 },
    );
  });

  it(`passes χ² at p = 0.001 at every position on a fixed CSPRNG stream (${SAMPLE} codes, deterministic)`, () => {
    // AES-256-CTR keystream under a fixed, published key: cryptographic-quality bytes that are the same on every
    // run, so the statistics below are fixed numbers and this test cannot flake. Each position, including the
    // check character (uniform too: α·s, where s includes the independent uniform last character), is held to the plain
    // p = 0.001 quantile of χ²(31), 61.1.
    const stream = createCipheriv('aes-256-ctr', Buffer.alloc(32, 0x5a), Buffer.alloc(16, 0)).update(
      Buffer.alloc(SAMPLE * CODE_RANDOM_BYTES),
    );
    const codes = Array.from({ length: SAMPLE }, (_, i) => codeFromRandom(stream, i * CODE_RANDOM_BYTES));
    const statistics = positionCounts(codes).map((counts) => chiSquare(counts, SAMPLE));
    for (const statistic of statistics) expect(statistic).toBeLessThan(CHI2_31_P001);
  });

  it(`passes χ² on a live batch from crypto.randomBytes (${LIVE_SAMPLE} codes, family-wise p = 1e-6)`, () => {
    // Fresh randomness every run: each of the 16 positions is tested at 1e-6 / 16 (Bonferroni), so a correct
    // generator fails at most once in a million runs, while a character 10 % too frequent adds ≈ 240 to the
    // statistic of 800,000 draws and fails every time.
    // The batch spans many 65,536-code randomness blocks, so block refills are covered too.
    const codes = generateCodes(LIVE_SAMPLE);
    expect(codes).toHaveLength(LIVE_SAMPLE);
    // A reused or unrefilled block would pass χ² but repeat codes; 75 random bits make a true repeat ~5e-13 likely.
    expect(new Set(codes).size).toBe(LIVE_SAMPLE);
    const statistics = positionCounts(codes).map((counts) => chiSquare(counts, LIVE_SAMPLE));
    for (const statistic of statistics) expect(statistic).toBeLessThan(CHI2_31_P1E6_BONFERRONI_16);
  });

  it('fills and refills from crypto randomness in blocks and wipes them afterwards', () => {
    // Replace randomFillSync with a counter, so the output can be predicted from codeFromRandom on the same bytes.
    let fills = 0;
    let next = 0;
    const buffers: Buffer[] = [];
    jest.isolateModules(() => {
      jest.doMock('node:crypto', () => ({
        ...jest.requireActual<typeof import('node:crypto')>('node:crypto'),
        randomFillSync: (buffer: Buffer) => {
          fills++;
          buffers.push(buffer);
          for (let i = 0; i < buffer.length; i++) buffer[i] = (next++ * 7) & 0xff;
          return buffer;
        },
      }));
      const isolated = jest.requireActual<typeof import('./card-code')>('./card-code');
      const count = 65_536 + 3;
      const codes = isolated.generateCodes(count);
      expect(fills).toBe(2);
      let expected = 0;
      const bytes = new Uint8Array(count * CODE_RANDOM_BYTES).map(() => (expected++ * 7) & 0xff);
      for (const i of [0, 1, 65_535, 65_536, 65_538]) expect(codes[i]).toBe(codeFromRandom(bytes, i * 10));
      expect(buffers[0].every((b) => b === 0)).toBe(true);
    });
    jest.dontMock('node:crypto');
  });

  it('generates codes that validate, and zero codes on request', () => {
    expect(generateCodes(0)).toEqual([]);
    const codes = generateCodes(10_000);
    expect(codes.every((c) => c.length === CODE_LENGTH && isValidCode(c) && referenceValid(c))).toBe(true);
    fc.assert(
      fc.property(code, (c) => isValidCode(c) && referenceValid(c) && c.slice(15) === referenceCheck(c.slice(0, 15))),
      { numRuns: 5000 },
    );
    for (const bad of [-1, 1.5, Number.NaN, Infinity]) expect(() => generateCodes(bad)).toThrow(RangeError);
  });

  it('validates a code in place in a byte buffer exactly as isValidCode validates the string', () => {
    const check = (text: string) => {
      const bytes = Buffer.from(`|${text}|`, 'latin1');
      expect(isValidCodeAt(bytes, 1)).toBe(isValidCode(text.slice(0, 16)) && text.length >= 16);
    };
    fc.assert(
      fc.property(code, (c) => isValidCodeAt(Buffer.from(`ab${c}`, 'latin1'), 2)),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(code, fc.nat(15), fc.constantFrom(...'0Z9AUIOLa-\u00e9'), (c, at, char) => {
        check(`${c.slice(0, at)}${char}${c.slice(at + 1)}`);
      }),
      { numRuns: 2000 },
    );
    const [valid] = generateCodes(1);
    // Fewer than 16 bytes left from the offset: not a code (and no read past the end).
    expect(isValidCodeAt(Buffer.from(valid, 'latin1'), 1)).toBe(false);
    expect(isValidCodeAt(Buffer.from(valid.slice(0, 15), 'latin1'), 0)).toBe(false);
    expect(isValidCodeAt(Buffer.from(valid, 'latin1'), -1)).toBe(false);
  });

  it('computes the check character of a body; refuses anything but 15 canonical characters', () => {
    fc.assert(
      fc.property(code, (c) => checkCharacter(c.slice(0, 15)) === c[15]),
      { numRuns: 1000 },
    );
    for (const bad of ['', '0'.repeat(14), '0'.repeat(16), 'O'.repeat(15), 'u'.repeat(15)]) {
      expect(() => checkCharacter(bad)).toThrow(RangeError);
    }
  });

  describe('the check character', () => {
    // The check is linear over GF(32): value(c ⊕ e) = value(c) ⊕ value(e). Whether an error is caught therefore
    // depends on the error alone, never on the rest of the code, so going through every error pattern once (on a
    // random background) covers every code. Each case also asserts that the reference agrees.
    const ALPHABET = [...CODE_ALPHABET];
    const pairs = ALPHABET.flatMap((a) => ALPHABET.filter((b) => b !== a).map((b) => [a, b] as const));

    /** Runs `mutate` on a valid code with `fixed` characters in place; lists the cases whose result validates. */
    function missedBy(cases: Array<{ label: string; fixed: Record<number, string>; mutate: (c: string) => string }>) {
      const missed: string[] = [];
      for (const { label, fixed, mutate } of cases) {
        const valid = validCodeWith(fixed);
        const mutated = mutate(valid);
        if (!isValidCode(valid) || mutated === valid) missed.push(`${label} (not a valid code and an error)`);
        if (isValidCode(mutated)) missed.push(label);
        if (isValidCode(mutated) !== referenceValid(mutated)) missed.push(`${label} (reference disagrees)`);
      }
      return missed;
    }

    it('weighs the 16 positions with α^15 … α^0, sixteen distinct non-zero elements (α generates GF(32)*)', () => {
      const powers = Array.from({ length: 31 }, (_, k) => alphaPower(k));
      expect(new Set(powers).size).toBe(31);
      expect(powers).not.toContain(0);
      expect(alphaPower(31)).toBe(1);
      expect(gfMul(3, alphaPower(5))).not.toBe(0); // α + 1 ≠ 0, the factor of every transposition and twin error
    });

    it(`catches EVERY single-character substitution: 16 positions × 32 × 31 (exhaustive)`, () => {
      const cases = Array.from({ length: CODE_LENGTH }, (_, p) =>
        pairs.map(([a, b]) => ({
          label: `${p}:${a}→${b}`,
          fixed: { [p]: a },
          mutate: (c: string) => replaceAt(c, p, b),
        })),
      ).flat();
      expect(cases).toHaveLength(CODE_LENGTH * 32 * 31);
      expect(missedBy(cases)).toEqual([]);
    });

    it('catches EVERY adjacent transposition ab → ba: 15 position pairs × 32 × 31, check character included', () => {
      const cases = Array.from({ length: CODE_LENGTH - 1 }, (_, i) =>
        pairs.map(([a, b]) => ({
          label: `${i}:${a}${b}`,
          fixed: { [i]: a, [i + 1]: b },
          mutate: (c: string) => swapAt(c, i),
        })),
      ).flat();
      expect(cases).toHaveLength(15 * 32 * 31);
      expect(missedBy(cases)).toEqual([]);
    });

    it('catches EVERY jump transposition abc → cba: 14 positions × 32 × 31 (exhaustive)', () => {
      const cases = Array.from({ length: CODE_LENGTH - 2 }, (_, i) =>
        pairs.map(([a, c]) => ({
          label: `${i}:${a}?${c}`,
          fixed: { [i]: a, [i + 2]: c },
          mutate: (code: string) => replaceAt(replaceAt(code, i, c), i + 2, a),
        })),
      ).flat();
      expect(cases).toHaveLength(14 * 32 * 31);
      expect(missedBy(cases)).toEqual([]);
    });

    it('catches EVERY twin error aa → bb: 15 positions × 32 × 31 (exhaustive)', () => {
      const cases = Array.from({ length: CODE_LENGTH - 1 }, (_, i) =>
        pairs.map(([a, b]) => ({
          label: `${i}:${a}${a}→${b}${b}`,
          fixed: { [i]: a, [i + 1]: a },
          mutate: (c: string) => replaceAt(replaceAt(c, i, b), i + 1, b),
        })),
      ).flat();
      expect(cases).toHaveLength(15 * 32 * 31);
      expect(missedBy(cases)).toEqual([]);
    });

    it('catches every adjacent and jump transposition of two different characters in random codes', () => {
      fc.assert(
        fc.property(code, (c) => {
          for (let i = 0; i < CODE_LENGTH - 1; i++) {
            if (c[i] !== c[i + 1] && isValidCode(swapAt(c, i))) return false;
            if (
              i < CODE_LENGTH - 2 &&
              c[i] !== c[i + 2] &&
              isValidCode(replaceAt(replaceAt(c, i, c[i + 2]), i + 2, c[i]))
            )
              return false;
          }
          return true;
        }),
        { numRuns: 2000 },
      );
    });

    it('catches 0Z ↔ Z0, the swap Luhn mod 32 (docs/decisions/0002-gf32-check-character.md) could not catch', () => {
      // Luhn mod 32 adds 0 and Z (31) the same whether doubled or not (2·31 = 62 = "1U" in base 32 → 1 + 30), so
      // swapping them left its sum unchanged at every position. The GF(32) check weighs them α^k·0 and α^k·31.
      for (let i = 0; i < CODE_LENGTH - 1; i++) {
        for (const [a, b] of [
          ['0', 'Z'],
          ['Z', '0'],
        ]) {
          const c = validCodeWith({ [i]: a, [i + 1]: b });
          expect(isValidCode(c)).toBe(true);
          expect(isValidCode(swapAt(c, i))).toBe(false);
        }
      }
    });

    it('lets two unrelated substitutions through about 1 time in 32, as any single check character must', () => {
      // Not a guarantee the check makes; recorded so that nobody reads more into it. 4,000 random double errors.
      const shift = (ch: string, by: number) => ALPHABET[(ALPHABET.indexOf(ch) + by) % N];
      const trials = 4_000;
      let passed = 0;
      fc.assert(
        fc.property(
          code,
          fc.integer({ min: 0, max: CODE_LENGTH - 1 }),
          fc.integer({ min: 1, max: CODE_LENGTH - 1 }),
          fc.integer({ min: 1, max: N - 1 }),
          fc.integer({ min: 1, max: N - 1 }),
          (c, p, gap, by, byToo) => {
            const q = (p + gap) % CODE_LENGTH;
            const mutated = replaceAt(replaceAt(c, p, shift(c[p], by)), q, shift(c[q], byToo));
            if (isValidCode(mutated)) passed++;
            return isValidCode(mutated) === referenceValid(mutated);
          },
        ),
        { numRuns: trials, seed: 32 },
      );
      expect(passed).toBeGreaterThan(trials / N / 3);
      expect(passed).toBeLessThan((trials / N) * 3);
    });
  });

  describe('isValidCode', () => {
    it('accepts only the canonical 16 characters', () => {
      const [c] = generateCodes(1);
      expect(isValidCode(c)).toBe(true);
      expect(isValidCode(c.toLowerCase())).toBe(c === c.toLowerCase());
      expect(isValidCode(formatCode(c))).toBe(false);
      expect(isValidCode(c.slice(0, 15))).toBe(false);
      expect(isValidCode(`${c}0`)).toBe(false);
      expect(isValidCode('')).toBe(false);
      expect(isValidCode('000000000000000U')).toBe(false);
      expect(isValidCode('00000000000000O0')).toBe(false);
      expect(isValidCode('000000000000000\u0100')).toBe(false);
      expect(isValidCode(undefined as unknown as string)).toBe(false);
    });
  });

  describe('normaliseCode', () => {
    /** A spelling of the code a person might type: case, O/I/L look-alikes, separators, full-width forms. */
    const spelling = (c: string) =>
      fc
        .tuple(
          fc.array(fc.constantFrom('upper', 'lower', 'lookalike', 'fullwidth'), {
            minLength: CODE_LENGTH,
            maxLength: CODE_LENGTH,
          }),
          fc.array(fc.constantFrom('', '', '', ' ', '-', '  ', '\t', '\u3000', '－', '—', '·', '_', '.', '\u200b'), {
            minLength: CODE_LENGTH + 1,
            maxLength: CODE_LENGTH + 1,
          }),
        )
        .map(([styles, separators]) => {
          let out = separators[0];
          for (let i = 0; i < CODE_LENGTH; i++) {
            let ch = c[i];
            if (styles[i] === 'lower') ch = ch.toLowerCase();
            if (styles[i] === 'lookalike' && ch === '0') ch = 'O';
            if (styles[i] === 'lookalike' && ch === '1') ch = 'IiLl'[i % 4];
            if (styles[i] === 'fullwidth') ch = String.fromCharCode(ch.charCodeAt(0) + 0xfee0);
            out += ch + separators[i + 1];
          }
          return out;
        });

    it('reads back the formatted form', () => {
      fc.assert(
        fc.property(code, (c) => {
          expect(formatCode(c)).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
          expect(normaliseCode(formatCode(c))).toBe(c);
          expect(parseCode(formatCode(c))).toBe(c);
        }),
        { numRuns: 2000 },
      );
    });

    it('reads back lower case, spaces, separators, full-width forms, and O / I / L for 0 / 1', () => {
      fc.assert(
        fc.property(
          code.chain((c) => fc.tuple(fc.constant(c), spelling(c))),
          ([c, typed]) => {
            expect(normaliseCode(typed)).toBe(c);
          },
        ),
        { numRuns: 3000 },
      );
      expect(normaliseCode(' o0oi-LlI1 ·0000\u3000ＯＩＬ0 ')).toBe('0001111100000110');
    });

    it('returns null when it cannot be a code', () => {
      const [c] = generateCodes(1);
      expect(normaliseCode(c.slice(0, 15))).toBeNull();
      expect(normaliseCode(`${c}0`)).toBeNull();
      expect(normaliseCode(`${formatCode(c)}-0`)).toBeNull();
      expect(normaliseCode('')).toBeNull();
      expect(normaliseCode('----')).toBeNull();
      expect(normaliseCode('U000-0000-0000-0000')).toBeNull(); // U is outside Crockford's alphabet
      expect(normaliseCode('u000-0000-0000-0000')).toBeNull();
      expect(normaliseCode('0000*0000-0000-0000')).toBeNull();
      expect(normaliseCode('0000,0000,0000,0000')).toBeNull();
      expect(normaliseCode('Ä000-0000-0000-0000')).toBeNull();
      expect(normaliseCode('卡密0000000000000000')).toBeNull();
      expect(normaliseCode('😀000000000000000')).toBeNull();
      expect(normaliseCode(`${' '.repeat(60)}${c}`)).toBeNull(); // longer than any typed code
      expect(normaliseCode(null as unknown as string)).toBeNull();
    });

    it('normalises without checking the check character; parseCode does both', () => {
      const [c] = generateCodes(1);
      const wrong = replaceAt(c, 15, c[15] === '0' ? '1' : '0');
      expect(normaliseCode(wrong)).toBe(wrong);
      expect(parseCode(wrong)).toBeNull();
      expect(parseCode(formatCode(c).toLowerCase())).toBe(c);
    });
  });

  it('formats in groups of four and refuses other lengths without quoting the input', () => {
    expect(formatCode('K7QD9XMA2HJR5WPT')).toBe('K7QD-9XMA-2HJR-5WPT');
    expect(() => formatCode('K7QD9XMA2HJR5WP')).toThrow(RangeError);
    try {
      formatCode('K7QD9XMA2HJR5WP');
    } catch (error) {
      expect(String(error)).not.toContain('K7QD');
    }
  });
});

/**
 * A valid code with the `fixed` characters at their positions (random elsewhere), completed by the reference
 * through the rightmost position not fixed: its weight α^k is non-zero, so exactly one character there makes the
 * value 0.
 */
function validCodeWith(fixed: Record<number, string>): string {
  const chars = [...generateCodes(1)[0]];
  for (const [position, char] of Object.entries(fixed)) chars[Number(position)] = char;
  let free = CODE_LENGTH - 1;
  while (free in fixed) free--;
  chars[free] = '0';
  const rest = referenceValue(chars.join(''));
  const fits = [...CODE_ALPHABET].filter((_, c) => gfMul(c, WEIGHTS[CODE_LENGTH - 1 - free]) === rest);
  if (fits.length !== 1) throw new Error(`expected one character to complete the code, found ${fits.length}`);
  chars[free] = fits[0];
  return chars.join('');
}

describe('PINs', () => {
  it('maps a 32-bit word to word mod 10^6, rejecting the top 967,296 words (no modulo bias)', () => {
    // PIN_WORD_LIMIT is the largest multiple of 10^6 that fits 32 bits: each PIN has exactly 4,294 accepted words.
    expect(PIN_WORD_LIMIT).toBe(4_294_000_000);
    expect(PIN_WORD_LIMIT % 1_000_000).toBe(0);
    expect(2 ** 32 - PIN_WORD_LIMIT).toBeLessThan(1_000_000);
    const word = (n: number) => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(n);
      return bytes;
    };
    expect(pinFromRandom(word(0), 0)).toBe('000000');
    expect(pinFromRandom(word(42), 0)).toBe('000042');
    expect(pinFromRandom(word(1_000_000), 0)).toBe('000000');
    expect(pinFromRandom(word(PIN_WORD_LIMIT - 1), 0)).toBe('999999');
    expect(pinFromRandom(word(PIN_WORD_LIMIT), 0)).toBeNull();
    expect(pinFromRandom(word(2 ** 32 - 1), 0)).toBeNull();
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 32 - 1 }), (n) => {
        expect(pinFromRandom(word(n), 0)).toBe(n < PIN_WORD_LIMIT ? String(n % 1_000_000).padStart(6, '0') : null);
      }),
      { numRuns: 5000 },
    );
    expect(() => pinFromRandom(new Uint8Array(3), 0)).toThrow(RangeError);
  });

  it('skips rejected words and refills when a block runs out', () => {
    const fills: Buffer[] = [];
    jest.isolateModules(() => {
      jest.doMock('node:crypto', () => ({
        ...jest.requireActual<typeof import('node:crypto')>('node:crypto'),
        randomFillSync: (buffer: Buffer) => {
          fills.push(buffer);
          // First block: only rejected words. Second: words 0, 1, 2, … (so PINs 000000, 000001, …).
          for (let w = 0; w < buffer.length / 4; w++)
            buffer.writeUInt32BE(fills.length === 1 ? 2 ** 32 - 1 - w : w, w * 4);
          return buffer;
        },
      }));
      const isolated = jest.requireActual<typeof import('./card-code')>('./card-code');
      expect(isolated.generatePins(5)).toEqual(['000000', '000001', '000002', '000003', '000004']);
      expect(fills).toHaveLength(2);
      expect(fills[0].every((b) => b === 0)).toBe(true);
    });
    jest.dontMock('node:crypto');
  });

  it(`has uniform digits at each of the 6 positions (${LIVE_SAMPLE} PINs, family-wise p = 1e-6)`, () => {
    const pins = generatePins(LIVE_SAMPLE);
    expect(pins.every((pin) => isValidPin(pin) && pin.length === PIN_LENGTH)).toBe(true);
    for (let p = 0; p < PIN_LENGTH; p++) {
      const counts = new Uint32Array(10);
      for (const pin of pins) counts[pin.charCodeAt(p) - 48]++;
      expect(chiSquare(counts, LIVE_SAMPLE)).toBeLessThan(CHI2_9_P1E6_BONFERRONI_6);
    }
    expect(generatePins(0)).toEqual([]);
    expect(() => generatePins(-1)).toThrow(RangeError);
  });

  it('validates the PIN format', () => {
    expect(isValidPin('012345')).toBe(true);
    for (const bad of ['12345', '1234567', '12345a', '１２３４５６', ' 12345', '']) expect(isValidPin(bad)).toBe(false);
  });

  it('compares PINs in constant time, and unequal lengths as unequal', () => {
    expect(pinMatches('012345', '012345')).toBe(true);
    expect(pinMatches('012345', '012346')).toBe(false);
    expect(pinMatches('012345', '01234')).toBe(false);
    expect(pinMatches('01234', '012345')).toBe(false);
    expect(pinMatches('', '')).toBe(true);
    expect(pinMatches('012345', '')).toBe(false);
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => pinMatches(a, b) === (a === b)),
      { numRuns: 2000 },
    );
  });
});

describe('serial numbers', () => {
  const MAX = 2n ** 63n - 1n;
  const serial = fc.bigInt({ min: 0n, max: MAX }).map(serialFromSequence);

  it('appends the Luhn check digit to the decimal sequence number', () => {
    expect(serialFromSequence(7992739871)).toBe('79927398713'); // the classic Luhn example
    expect(serialFromSequence(0)).toBe('00');
    expect(serialFromSequence(1n)).toBe('18');
    expect(serialFromSequence(MAX)).toBe(`${MAX}${serialFromSequence(MAX).slice(-1)}`);
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const s = serialFromSequence(n);
        expect(s).toBe(serialFromSequence(BigInt(n)));
        expect(s.slice(0, -1)).toBe(String(n));
        expect(referenceLuhn10(s)).toBe(true);
        expect(isValidSerial(s)).toBe(true);
      }),
      { numRuns: 3000 },
    );
    fc.assert(fc.property(serial, (s) => isValidSerial(s) && referenceLuhn10(s)));
  });

  it('does not take a well-formed serial whose sequence number is beyond the bigint range', () => {
    const check = (payload: bigint) => {
      for (const digit of '0123456789') if (referenceLuhn10(`${payload}${digit}`)) return `${payload}${digit}`;
      throw new Error('no check digit');
    };
    expect(isValidSerial(check(MAX))).toBe(true);
    expect(isValidSerial(check(MAX + 1n))).toBe(false);
    expect(isValidSerial(check(10n ** 19n - 1n))).toBe(false);
  });

  it('refuses sequence numbers that are not non-negative bigint-range integers', () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity, Number.MAX_SAFE_INTEGER + 1, -1n, MAX + 1n]) {
      expect(() => serialFromSequence(bad)).toThrow(RangeError);
    }
  });

  it('catches every single-digit error', () => {
    fc.assert(
      fc.property(serial, (s) => {
        const missed: string[] = [];
        for (let p = 0; p < s.length; p++) {
          for (const d of '0123456789') if (d !== s[p] && isValidSerial(replaceAt(s, p, d))) missed.push(`${p}:${d}`);
        }
        expect(missed).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it('catches every adjacent transposition except 09 ↔ 90 (Luhn mod 10 blind spot), exhaustively', () => {
    // Doubling maps 0 → 0 and 9 → 18 → 9, so both digits add the same whether doubled or not; every other pair
    // of different digits changes the sum. A leading 90 → 09 is still refused, by the no-leading-zero rule.
    const missed: string[] = [];
    for (let i = 0; i < 11; i++) {
      for (let a = 0; a <= 9; a++) {
        for (let b = 0; b <= 9; b++) {
          if (a === b || (i === 0 && a === 0)) continue; // no serial starts with 0
          const swapped = swapAt(serialWith(i, String(a), String(b)), i);
          if (isValidSerial(swapped)) missed.push(`${i}:${a}${b}`);
        }
      }
    }
    // Exactly 09 and 90 at positions 1..10 (the check digit is position 11), and nothing else.
    expect(missed).toEqual([...Array(10).keys()].flatMap((k) => [`${k + 1}:09`, `${k + 1}:90`]));
    fc.assert(
      fc.property(serial, (s) => {
        for (let i = 0; i + 1 < s.length; i++) {
          if (s[i] === s[i + 1]) continue;
          const blindSpot = i > 0 && (s.slice(i, i + 2) === '09' || s.slice(i, i + 2) === '90');
          // A 09 → 90 swap near the top of the range can leave it: refused then too.
          const inRange = BigInt(swapAt(s, i).slice(0, -1)) <= MAX;
          if (isValidSerial(swapAt(s, i)) !== (blindSpot && inRange)) return false;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts only the canonical spelling', () => {
    expect(isValidSerial('79927398713')).toBe(true);
    expect(isValidSerial('00')).toBe(true);
    for (const bad of [
      '079927398713',
      '7992739871',
      '7992-7398713',
      '７９９２７３９８７１３',
      ' 79927398713',
      '0',
      '',
    ]) {
      expect(isValidSerial(bad)).toBe(false);
    }
    expect(isValidSerial('1'.repeat(21))).toBe(false);
    expect(isValidSerial(undefined as unknown as string)).toBe(false);
  });
});

/** A valid 12-digit serial with digits a, b at positions i, i + 1 (position 0 non-zero), solved via another digit. */
function serialWith(i: number, a: string, b: string): string {
  const digits = [...'123456789012'];
  digits[i] = a;
  digits[i + 1] = b;
  const free = [11, 9, 7].find((k) => k !== i && k !== i + 1)!;
  for (const d of '0123456789') {
    digits[free] = d;
    if (referenceLuhn10(digits.join(''))) return digits.join('');
  }
  throw new Error('unreachable: a weight-1 digit reaches every residue');
}
