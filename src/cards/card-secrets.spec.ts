import 'reflect-metadata';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import sodium from 'sodium-native';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { AppConfig } from '../config/app-config';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { codeFromRandom, formatCode, generateCodes, generatePins, serialFromSequence } from './card-code';
import { sealV1 } from '../../test/support/v1-envelope';
import {
  BLIND_INDEX_BYTES,
  CardSecretError,
  CardSecrets,
  OPENED_CODE_AT,
  OPENED_PIN_AT,
  parsePeppers,
  pepperIdOf,
} from './card-secrets';
import { thrown } from '../../test/support/unit';

const key = () => randomBytes(32);
const configWith = (pepper: Buffer | string, keys: string) =>
  Object.assign(new AppConfig(), {
    CODE_PEPPER: typeof pepper === 'string' ? pepper : pepper.toString('base64'),
    DATA_ENCRYPTION_KEYS: keys,
  });
const secretsWith = (pepper: Buffer | string, keys: string) => {
  const config = configWith(pepper, keys);
  return new CardSecrets(config, new DataCipher(config));
};
/** RFC 5869 HKDF-SHA256 with an empty salt: the key CardSecrets derives from a pepper for one purpose. */
const derived = (pepper: Buffer, info: string) => Buffer.from(hkdfSync('sha256', pepper, Buffer.alloc(0), info, 32));
const BLIND_INDEX_INFO = 'fuli/card-code-blind-index/v2-blake2b';
const PIN_DIGEST_INFO = 'fuli/card-pin-digest/v2-blake2b';
/** The HKDF infos of the earlier HMAC-SHA256 scheme (cards whose code_key_id is a bare pepper id). */
const HMAC_BLIND_INDEX_INFO = 'fuli/card-code-blind-index/v1';
const HMAC_PIN_DIGEST_INFO = 'fuli/card-pin-digest/v1';
/** Keyed BLAKE2b-256, computed here independently of CardSecrets. */
const blake2b = (key: Buffer, text: string) => {
  const out = Buffer.alloc(32);
  sodium.crypto_generichash(out, Buffer.from(text, 'latin1'), key);
  return out;
};

/** Every spelling of a secret that could leak into a log line. */
const spellings = (secret: Buffer) => [
  secret.toString('base64'),
  secret.toString('base64url'),
  secret.toString('hex'),
  secret.subarray(0, 12).toString('hex'),
  // How util.inspect prints a Buffer: `<Buffer 60 67 00 f5 …>`.
  [...secret.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' '),
];

/** Everything an error carries to a log: message, stack, and the same for its cause chain. */
function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return `${error.name} ${error.message} ${error.stack ?? ''} ${error.cause === undefined ? '' : errorText(error.cause)}`;
}

const code = fc.uint8Array({ minLength: 10, maxLength: 10 }).map((b) => codeFromRandom(b, 0));
const pin = fc.nat(999_999).map((n) => String(n).padStart(6, '0'));
const serial = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(serialFromSequence);

describe('CardSecrets', () => {
  const pepper = key();
  const dataKey = key();
  const secrets = secretsWith(pepper, `k1:${dataKey.toString('base64')}`);
  const [aCode] = generateCodes(1);
  const [aPin] = generatePins(1);
  const aSerial = serialFromSequence(10_000_000_001n);

  it('is injectable with AppConfig and DataCipher', () => {
    // What Nest's injector reads: the constructor's parameter types, emitted by the decorator.
    expect(Reflect.getMetadata('design:paramtypes', CardSecrets)).toEqual([AppConfig, DataCipher]);
  });

  describe('blindIndex', () => {
    it('is keyed BLAKE2b-256 of the normalised code under a key derived from the pepper: 32 bytes, stable, code- and pepper-specific', () => {
      const indexKey = derived(pepper, BLIND_INDEX_INFO);
      fc.assert(
        fc.property(code, (c) => {
          const index = secrets.blindIndex(c);
          expect(index).toHaveLength(BLIND_INDEX_BYTES);
          expect(index.equals(blake2b(indexKey, c))).toBe(true);
          expect(index.equals(secrets.blindIndex(c))).toBe(true);
        }),
        { numRuns: 500 },
      );
      const [other] = generateCodes(1);
      expect(secrets.blindIndex(aCode).equals(secrets.blindIndex(other))).toBe(aCode === other);
      const otherPepper = secretsWith(key(), `k1:${dataKey.toString('base64')}`);
      expect(otherPepper.blindIndex(aCode).equals(secrets.blindIndex(aCode))).toBe(false);
    });

    it('matches fixed known answers (RFC 5869 HKDF-SHA256, then keyed BLAKE2b-256 or RFC 2104 HMAC-SHA256)', () => {
      // BLAKE2b: Python's hashlib.blake2b(b'000G40R40M30E200', key=K, digest_size=32), K the HKDF output for the
      // info fuli/card-code-blind-index/v2-blake2b. HMAC-SHA256 (the earlier scheme), with openssl:
      // K=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:$(printf '0b%.0s' {1..32}) -kdfopt salt: \
      //   -kdfopt info:fuli/card-code-blind-index/v1 HKDF | tr -d : | tr A-F a-f)
      // printf 000G40R40M30E200 | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K
      const fixed = secretsWith(Buffer.alloc(32, 0x0b), `k1:${dataKey.toString('base64')}`);
      expect(fixed.blindIndex('000G40R40M30E200').toString('hex')).toBe(KNOWN_BLAKE2B_BLIND_INDEX);
      // Cards indexed under the HMAC scheme (code_key_id the bare pepper id) are still looked up, second.
      expect(fixed.blindIndexCandidates('000G40R40M30E200')[1]).toEqual({
        keyId: 'p0',
        hash: Buffer.from(KNOWN_BLIND_INDEX, 'hex'),
      });
      // Cards indexed before pepper ids (raw pepper p0) are still looked up, as the last candidate.
      const [legacy] = fixed.blindIndexCandidates('000G40R40M30E200').slice(-1);
      expect(legacy).toEqual({ keyId: null, hash: Buffer.from(KNOWN_LEGACY_BLIND_INDEX, 'hex') });
    });

    it('refuses input that is not a normalised, valid code, without echoing it', () => {
      const wrongCheck = aCode.slice(0, 15) + (aCode[15] === '0' ? '1' : '0');
      for (const bad of [formatCode(aCode), aCode.toLowerCase(), wrongCheck, aCode.slice(1), '']) {
        if (bad === aCode) continue;
        const error = thrown(() => secrets.blindIndex(bad));
        expect(error).toBeInstanceOf(CardSecretError);
        expect(errorText(error)).not.toContain(aCode.slice(0, 8));
      }
    });
  });

  describe('seal and open', () => {
    it('round-trips code and PIN, bound to the serial, never showing them', () => {
      fc.assert(
        fc.property(serial, code, pin, (s, c, p) => {
          const envelope = secrets.seal(s, c, p);
          expect(envelope).toMatch(/^v2\.k1\.[A-Za-z0-9_-]+$/);
          expect(envelope).not.toContain(c);
          expect(envelope).not.toContain(p);
          expect(secrets.open(s, envelope)).toEqual({ code: c, pin: p });
        }),
        { numRuns: 300 },
      );
      // A fresh IV every time: the same secret sealed twice gives two envelopes.
      expect(secrets.seal(aSerial, aCode, aPin)).not.toBe(secrets.seal(aSerial, aCode, aPin));
    });

    it('stores `code|pin` under the context `cards.code:<serial>` (changing either orphans stored envelopes)', () => {
      const config = configWith(pepper, `k1:${dataKey.toString('base64')}`);
      const cipher = new DataCipher(config);
      expect(cipher.decrypt(secrets.seal(aSerial, aCode, aPin), `cards.code:${aSerial}`)).toBe(`${aCode}|${aPin}`);
      // Authentic but not a code and PIN (only a bug could seal that): still refused rather than handed out.
      for (const plaintext of ['', 'no separator', `${aCode}|12345`, `${aCode.slice(1)}|${aPin}`]) {
        const envelope = cipher.encrypt(plaintext, `cards.code:${aSerial}`);
        expect(() => secrets.open(aSerial, envelope)).toThrow(CardSecretError);
      }
    });

    it('does not open for another card (serial)', () => {
      const envelope = secrets.seal(aSerial, aCode, aPin);
      fc.assert(
        fc.property(serial, (other) => {
          fc.pre(other !== aSerial);
          expect(() => secrets.open(other, envelope)).toThrow(CardSecretError);
        }),
        { numRuns: 100 },
      );
    });

    it('does not open when any byte of the envelope is altered, or the key id is', () => {
      const envelope = secrets.seal(aSerial, aCode, aPin);
      const [, , payload] = envelope.split('.');
      const bytes = Buffer.from(payload, 'base64url');
      for (let i = 0; i < bytes.length; i++) {
        for (const flip of [0x01, 0x80]) {
          const altered = Buffer.from(bytes);
          altered[i] ^= flip;
          expect(() => secrets.open(aSerial, `v2.k1.${altered.toString('base64url')}`)).toThrow(CardSecretError);
        }
      }
      expect(() => secrets.open(aSerial, `v2.k1.${bytes.subarray(0, -1).toString('base64url')}`)).toThrow(
        CardSecretError,
      );
      expect(() => secrets.open(aSerial, envelope.replace('v2.k1.', 'v2.k9.'))).toThrow(CardSecretError);
      expect(() => secrets.open(aSerial, envelope.replace('v2.', 'v1.'))).toThrow(CardSecretError);
      expect(() => secrets.open(aSerial, envelope.replace('v2.', 'v3.'))).toThrow(CardSecretError);
      expect(() => secrets.open(aSerial, '')).toThrow(CardSecretError);
      // Same key id, other key (another environment's envelope): refused by the tag, not decrypted to garbage.
      const stranger = secretsWith(pepper, `k1:${key().toString('base64')}`);
      expect(() => stranger.open(aSerial, envelope)).toThrow(CardSecretError);
    });

    it('rotates keys: old envelopes open with the older key listed second, new ones use the first', () => {
      const [oldKey, newKey] = [dataKey, key()];
      const before = secrets.seal(aSerial, aCode, aPin);
      const rotated = secretsWith(pepper, `k2:${newKey.toString('base64')},k1:${oldKey.toString('base64')}`);
      expect(rotated.open(aSerial, before)).toEqual({ code: aCode, pin: aPin });
      expect(rotated.needsReseal(before)).toBe(true);
      const after = rotated.seal(aSerial, aCode, aPin);
      expect(after).toMatch(/^v2\.k2\./);
      expect(rotated.needsReseal(after)).toBe(false);
      expect(rotated.open(aSerial, after)).toEqual({ code: aCode, pin: aPin });
      // The blind index does not depend on data keys: lookups keep working across a rotation.
      expect(rotated.blindIndex(aCode).equals(secrets.blindIndex(aCode))).toBe(true);
      // Once k1 is dropped, its envelopes no longer open (re-seal them first).
      const k2Only = secretsWith(pepper, `k2:${newKey.toString('base64')}`);
      expect(() => k2Only.open(aSerial, before)).toThrow(CardSecretError);
      expect(k2Only.open(aSerial, after)).toEqual({ code: aCode, pin: aPin });
    });

    it('reseals under the active key, still bound to the serial, and refuses what does not open for that card', () => {
      const before = secrets.seal(aSerial, aCode, aPin);
      const rotated = secretsWith(pepper, `k2:${key().toString('base64')},k1:${dataKey.toString('base64')}`);
      const after = rotated.reseal(aSerial, before);
      expect(after).toMatch(/^v2\.k2\./);
      expect(rotated.needsReseal(after)).toBe(false);
      expect(rotated.open(aSerial, after)).toEqual({ code: aCode, pin: aPin });
      expect(() => rotated.open(serialFromSequence(1), after)).toThrow(CardSecretError);
      // Another card's envelope, or one whose key is gone, is never turned into a valid one.
      expect(() => rotated.reseal(serialFromSequence(1), before)).toThrow(CardSecretError);
      expect(() => rotated.reseal(aSerial, before.replace('v2.k1.', 'v2.k7.'))).toThrow(CardSecretError);
    });

    it('seals only a valid serial, a normalised valid code and a 6-digit PIN, without echoing them', () => {
      const cases: [string, string, string][] = [
        ['79927398710', aCode, aPin], // wrong check digit
        [aSerial, formatCode(aCode), aPin],
        [aSerial, aCode.toLowerCase() === aCode ? 'U'.repeat(16) : aCode.toLowerCase(), aPin],
        [aSerial, aCode, '12345'],
        [aSerial, aCode, '12345|'],
        [aSerial, `${aCode.slice(0, 8)}|${aCode.slice(9)}`, aPin],
      ];
      for (const [s, c, p] of cases) {
        const error = thrown(() => secrets.seal(s, c, p));
        expect(error).toBeInstanceOf(CardSecretError);
        expect(errorText(error)).not.toContain(aCode.slice(0, 8));
        expect(errorText(error)).not.toContain(aPin);
      }
    });
  });

  describe('keeps keys out of logs and errors', () => {
    const secretTexts = [...spellings(pepper), ...spellings(dataKey)];

    it('shows no pepper or key when the service is inspected or serialised', () => {
      const shown = [
        inspect(secrets, { depth: Infinity, showHidden: true }),
        JSON.stringify(secrets),
        `${inspect({ provider: secrets }, { depth: Infinity })}`,
      ].join('\n');
      for (const text of secretTexts) expect(shown).not.toContain(text);
    });

    it('shows no pepper, key, code or PIN in any error', () => {
      const envelope = secrets.seal(aSerial, aCode, aPin);
      const errors = [
        thrown(() => secrets.open(serialFromSequence(1), envelope)),
        thrown(() => secrets.open(aSerial, `${envelope.slice(0, -4)}AAAA`)),
        thrown(() => secrets.open(aSerial, envelope.replace('k1', 'kX'))),
        thrown(() => secrets.blindIndex(formatCode(aCode))),
        thrown(() => secrets.seal(aSerial, aCode, 'abcdef')),
      ];
      for (const error of errors) {
        expect(error).toBeInstanceOf(CardSecretError);
        const text = errorText(error);
        for (const secret of [...secretTexts, aCode, aPin]) expect(text).not.toContain(secret);
      }
    });

    it('refuses a short pepper at construction, without quoting it', () => {
      const short = randomBytes(16);
      const config = configWith(short, `k1:${dataKey.toString('base64')}`);
      const error = thrown(() => new CardSecrets(config, new DataCipher(config)));
      expect(error).toBeInstanceOf(CardSecretError);
      for (const text of spellings(short)) expect(errorText(error)).not.toContain(text);
      // Characters outside base64 are skipped by the decoder: 44 characters of which few decode are refused too.
      const garbled = Object.assign(new AppConfig(), { CODE_PEPPER: '!'.repeat(40) + 'AAAA' });
      expect(() => new CardSecrets(garbled, new DataCipher(config))).toThrow(CardSecretError);
    });
  });
});

/** HMAC-SHA256(HKDF-SHA256(32 × 0x0b, info blind index), "000G40R40M30E200"), from openssl (see the test). */
const KNOWN_BLAKE2B_BLIND_INDEX = '5c8c519e96a1d4ba5b5e015f69a55f90f4e78afcca846934a100cffd54a6b148';
const KNOWN_BLIND_INDEX = '628fec986ebf08d57065accaf801a1bcb25f427f78515ffc18c8d2d00890296a';
/** HMAC-SHA256(key = 32 × 0x0b, "000G40R40M30E200"): the blind index before pepper ids. */
const KNOWN_LEGACY_BLIND_INDEX = '8c8b8997b6663da951497129ca71552f330f708cc6ba27699a98df8d02cf2c1f';

describe('CardSecrets peppers', () => {
  const dataKeys = `k1:${key().toString('base64')}`;
  const [aCode] = generateCodes(1);
  const serial = serialFromSequence(1_000_200);

  it('keys the blind index and the PIN digest with different keys derived from one pepper', () => {
    const pepper = key();
    const secrets = secretsWith(pepper, dataKeys);
    const digest = secrets.pinDigest(serial, '042917');
    expect(digest.equals(blake2b(derived(pepper, PIN_DIGEST_INFO), `pin:${serial}:042917`))).toBe(true);
    // Neither the blind-index key nor the pepper itself makes it.
    for (const other of [derived(pepper, BLIND_INDEX_INFO), pepper]) {
      expect(digest.equals(blake2b(other, `pin:${serial}:042917`))).toBe(false);
    }
    expect(derived(pepper, BLIND_INDEX_INFO).equals(derived(pepper, PIN_DIGEST_INFO))).toBe(false);
    // The earlier HMAC-SHA256 scheme (code_key_id a bare pepper id) keeps its own derived key.
    expect(
      secrets
        .pinDigest(serial, '042917', 'p0')
        .equals(createHmac('sha256', derived(pepper, HMAC_PIN_DIGEST_INFO)).update(`pin:${serial}:042917`).digest()),
    ).toBe(true);
  });

  it('finds and checks cards of an older pepper or scheme after a rotation, and of the raw pepper p0 (before key ids)', () => {
    const [p0, p1] = [key(), key()];
    const before = secretsWith(p0, dataKeys);
    expect(before.blindIndexKeyId).toBe('p0.b2');
    const rotated = secretsWith(`p1:${p1.toString('base64')},p0:${p0.toString('base64')}`, dataKeys);
    expect(rotated.blindIndexKeyId).toBe('p1.b2');
    expect(rotated.currentPepperId).toBe('p1');
    expect(rotated.pepperIds).toEqual(['p1', 'p0']);
    const candidates = rotated.blindIndexCandidates(aCode);
    expect(candidates.map((candidate) => candidate.keyId)).toEqual(['p1.b2', 'p1', 'p0.b2', 'p0', null]);
    expect(candidates[0].hash.equals(rotated.blindIndex(aCode))).toBe(true);
    expect(candidates[2].hash.equals(before.blindIndex(aCode))).toBe(true);
    // Cards indexed under the HMAC-SHA256 scheme (code_key_id `p0`, before BLAKE2b) are still found.
    const hmacIndex = createHmac('sha256', derived(p0, HMAC_BLIND_INDEX_INFO)).update(aCode).digest();
    expect(candidates[3].hash.equals(hmacIndex)).toBe(true);
    expect(candidates[4].hash.equals(createHmac('sha256', p0).update(aCode).digest())).toBe(true);
    // A PIN digest made under p0 is checked under p0 (either scheme); one made before key ids under the raw pepper.
    expect(rotated.pinDigestMatches(serial, '123456', before.pinDigest(serial, '123456'), 'p0.b2')).toBe(true);
    expect(rotated.pinDigestMatches(serial, '123456', before.pinDigest(serial, '123456'))).toBe(false);
    const hmacDigest = createHmac('sha256', derived(p0, HMAC_PIN_DIGEST_INFO)).update(`pin:${serial}:123456`).digest();
    expect(rotated.pinDigestMatches(serial, '123456', hmacDigest, 'p0')).toBe(true);
    expect(rotated.pinDigestMatches(serial, '123456', hmacDigest, 'p0.b2')).toBe(false);
    const legacyDigest = createHmac('sha256', p0).update(`pin:${serial}:123456`).digest();
    expect(rotated.pinDigestMatches(serial, '123456', legacyDigest, null)).toBe(true);
    // Without p0 nothing is found under it any more.
    const p1Only = secretsWith(`p1:${p1.toString('base64')}`, dataKeys);
    expect(p1Only.blindIndexCandidates(aCode).map((candidate) => candidate.keyId)).toEqual(['p1.b2', 'p1']);
    expect(() => p1Only.pinDigest(serial, '123456', 'p0')).toThrow(CardSecretError);
    expect(() => p1Only.pinDigest(serial, '123456', 'p0.b2')).toThrow(CardSecretError);
    expect(pepperIdOf('p0.b2')).toBe('p0');
    expect(pepperIdOf('p0')).toBe('p0');
  });

  it('re-indexes a card under the current pepper from its envelope', () => {
    const p0 = key();
    const before = secretsWith(p0, dataKeys);
    const envelope = before.seal(serial, aCode, '654321');
    const rotated = secretsWith(`p1:${key().toString('base64')},p0:${p0.toString('base64')}`, dataKeys);
    const index = rotated.reindex(serial, envelope);
    expect(index.keyId).toBe('p1.b2');
    expect(index.codeHash.equals(rotated.blindIndex(aCode))).toBe(true);
    expect(rotated.pinDigestMatches(serial, '654321', index.pinHash)).toBe(true);
    expect(() => rotated.reindex(serialFromSequence(1_000_201), envelope)).toThrow(CardSecretError);
  });

  it('reads CODE_PEPPER as a bare pepper (p0) or id:base64 pairs, refusing short, repeated or reserved ids', () => {
    const [a, b] = [key().toString('base64'), key().toString('base64')];
    expect(parsePeppers(a).map(([id]) => id)).toEqual(['p0']);
    expect(parsePeppers(`new:${a},old:${b}`).map(([id]) => id)).toEqual(['new', 'old']);
    expect(() => parsePeppers(`x:${a},x:${b}`)).toThrow(/listed twice/);
    expect(() => parsePeppers(`legacy:${a}`)).toThrow(CardSecretError);
    expect(() => parsePeppers(`x:${randomBytes(16).toString('base64')}`)).toThrow(/at least 32 bytes/);
    // Key material never appears in the messages.
    expect(errorText(thrown(() => parsePeppers(`x:${a},x:${a}`)))).not.toContain(a);
  });
});

describe('CardSecrets PIN digest', () => {
  const secrets = secretsWith(key(), `k1:${key().toString('base64')}`);
  const serial = serialFromSequence(1_000_123);

  it('matches the PIN it was made from, and no other PIN, card or pepper', () => {
    const digest = secrets.pinDigest(serial, '042917');
    expect(digest).toHaveLength(BLIND_INDEX_BYTES);
    expect(secrets.pinDigestMatches(serial, '042917', digest)).toBe(true);
    expect(secrets.pinDigestMatches(serial, '042918', digest)).toBe(false);
    expect(secrets.pinDigestMatches(serialFromSequence(1_000_124), '042917', digest)).toBe(false);
    const other = secretsWith(key(), `k1:${key().toString('base64')}`);
    expect(other.pinDigestMatches(serial, '042917', digest)).toBe(false);
  });

  it('refuses malformed PINs and digests without throwing, and never digests a malformed PIN', () => {
    const digest = secrets.pinDigest(serial, '123456');
    expect(secrets.pinDigestMatches(serial, '12345', digest)).toBe(false);
    expect(secrets.pinDigestMatches(serial, '123456', digest.subarray(1))).toBe(false);
    expect(() => secrets.pinDigest(serial, '12a456')).toThrow(CardSecretError);
    expect(() => secrets.pinDigest('123', '123456')).toThrow(CardSecretError);
  });
});

describe('CardSecrets.reader (an export: envelopes and serials read out of COPY text)', () => {
  const pepper = key();
  const [k1, k2] = [key().toString('base64'), key().toString('base64')];
  const secrets = secretsWith(pepper, `k2:${k2},k1:${k1}`);
  const codes = generateCodes(4);
  const pins = generatePins(4);
  const serials = [1, 2, 3, 4].map((n) => serialFromSequence(10_000_000_000n + BigInt(n)));

  /** `<serial>\t<envelope>\n` lines, and a reader call for line `index` against serial `serialOf`'s bytes. */
  function linesOf(envelopes: string[]) {
    const source = Buffer.from(envelopes.map((envelope, i) => `${serials[i]}\t${envelope}\n`).join(''), 'latin1');
    const starts: number[] = [];
    for (let at = 0; at < source.length; at = source.indexOf(10, at) + 1) starts.push(at);
    const reader = secrets.reader();
    return (index: number, serialOf = index) => {
      const tab = source.indexOf(9, starts[index]);
      const serialStart = starts[serialOf];
      const opened = reader.open(source, tab + 1, source.indexOf(10, tab), serialStart, source.indexOf(9, serialStart));
      return {
        code: opened.toString('latin1', OPENED_CODE_AT, OPENED_CODE_AT + 16),
        pin: opened.toString('latin1', OPENED_PIN_AT),
      };
    };
  }

  it('opens v2 envelopes of either key and v1 envelopes in one chunk, as open does', () => {
    const envelopes = [
      secrets.seal(serials[0], codes[0], pins[0]),
      sealV1('k1', k1, `${codes[1]}|${pins[1]}`, `cards.code:${serials[1]}`),
      secretsWith(pepper, `k1:${k1}`).seal(serials[2], codes[2], pins[2]),
      secrets.seal(serials[3], codes[3], pins[3]),
    ];
    const open = linesOf(envelopes);
    for (let i = 0; i < 4; i++) {
      expect(open(i)).toEqual({ code: codes[i], pin: pins[i] });
      expect(open(i)).toEqual(secrets.open(serials[i], envelopes[i]));
    }
  });

  it('refuses an envelope read against another serial, or holding no code and PIN, showing neither', () => {
    const cipher = new DataCipher(configWith(pepper, `k2:${k2}`));
    const open = linesOf([
      secrets.seal(serials[0], codes[0], pins[0]),
      sealV1('k1', k1, `${codes[1]}|${pins[1]}`, `cards.code:${serials[1]}`),
      cipher.encrypt(`${codes[2]}|${pins[2].slice(1)}x`, `cards.code:${serials[2]}`),
      // One character changed: the check character catches every single substitution.
      cipher.encrypt(
        `${codes[3].slice(0, 15)}${codes[3][15] === '0' ? '1' : '0'}|${pins[3]}`,
        `cards.code:${serials[3]}`,
      ),
    ]);
    expect(open(0)).toEqual({ code: codes[0], pin: pins[0] });
    const errors = [thrown(() => open(0, 1)), thrown(() => open(1, 0)), thrown(() => open(2)), thrown(() => open(3))];
    expect(errors.map((error) => (error as Error).message)).toEqual([
      'card secret envelope does not open for this card',
      'card secret envelope does not open for this card',
      'card secret envelope holds no code and PIN',
      'card secret envelope holds no code and PIN',
    ]);
    for (const error of errors) {
      expect(error).toBeInstanceOf(CardSecretError);
      const text = errorText(error);
      for (const secret of [...codes, ...pins, ...spellings(pepper)]) expect(text).not.toContain(secret);
    }
    // After the failures, the next card opens to its own code and PIN.
    expect(open(1)).toEqual({ code: codes[1], pin: pins[1] });
  });
});
