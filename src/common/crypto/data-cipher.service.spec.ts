import { createCipheriv, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { AppConfig } from '../../config/app-config';
import { sealV1 } from '../../../test/support/v1-envelope';
import { DataCipher, EnvelopeError } from './data-cipher.service';

const key = () => randomBytes(32).toString('base64');
const cipherWith = (keys: string) => new DataCipher(Object.assign(new AppConfig(), { DATA_ENCRYPTION_KEYS: keys }));

describe('DataCipher', () => {
  it('round-trips text under the active key, never showing the plaintext', () => {
    const cipher = cipherWith(`k1:${key()}`);
    const envelope = cipher.encrypt('张三|110101199003077777', 'orders.purchaser:ord_1');
    expect(envelope).toMatch(/^v2\.k1\.[A-Za-z0-9_-]+$/);
    expect(envelope).not.toContain('110101');
    expect(cipher.decrypt(envelope, 'orders.purchaser:ord_1')).toBe('张三|110101199003077777');
    expect(cipher.encrypt('same', 'c')).not.toBe(cipher.encrypt('same', 'c'));
  });

  it('refuses an envelope moved to another context, or tampered with', () => {
    const cipher = cipherWith(`k1:${key()}`);
    const envelope = cipher.encrypt('secret', 'orders.purchaser:ord_1');
    expect(() => cipher.decrypt(envelope, 'orders.purchaser:ord_2')).toThrow();
    // Flip one bit of the decoded payload (editing the last base64 characters may touch only ignored padding bits).
    const [version, keyId, payload] = envelope.split('.');
    for (const at of [0, 23, 24, 30, 45]) {
      const bytes = Buffer.from(payload, 'base64url');
      bytes[at] ^= 0x01;
      const tampered = `${version}.${keyId}.${bytes.toString('base64url')}`;
      expect(() => cipher.decrypt(tampered, 'orders.purchaser:ord_1')).toThrow();
    }
  });

  it('binds the header: an envelope relabelled with another key id of the same key bytes does not open', () => {
    const raw = key();
    const cipher = cipherWith(`k1:${raw},k2:${raw}`);
    const envelope = cipher.encrypt('secret', 'c');
    expect(() => cipher.decrypt(envelope.replace('v2.k1.', 'v2.k2.'), 'c')).toThrow(EnvelopeError);
    expect(() => cipher.decrypt(envelope.slice(0, 'v2.k1.'.length + 20), 'c')).toThrow(EnvelopeError);
  });

  it('still opens v1 (AES-256-GCM) envelopes, which are stale even under the active key and reseal to v2', () => {
    const raw = key();
    const cipher = cipherWith(`k1:${raw}`);
    const old = sealV1('k1', raw, '张三|110101199003077777', 'orders.purchaser:ord_1');
    expect(cipher.decrypt(old, 'orders.purchaser:ord_1')).toBe('张三|110101199003077777');
    expect(() => cipher.decrypt(old, 'orders.purchaser:ord_2')).toThrow(EnvelopeError);
    expect(DataCipher.keyIdOf(old)).toBe('k1');
    expect(cipher.isStale(old)).toBe(true);
    const moved = cipher.reseal(old, 'orders.purchaser:ord_1');
    expect(moved).toMatch(/^v2\.k1\./);
    expect(cipher.isStale(moved)).toBe(false);
    expect(cipher.decrypt(moved, 'orders.purchaser:ord_1')).toBe('张三|110101199003077777');
    // A v2 payload under a v1 label (or the reverse) opens under neither.
    expect(() => cipher.decrypt(moved.replace('v2.', 'v1.'), 'orders.purchaser:ord_1')).toThrow(EnvelopeError);
    expect(() => cipher.decrypt(old.replace('v1.', 'v2.'), 'orders.purchaser:ord_1')).toThrow(EnvelopeError);
  });

  it('refuses a v1 envelope whose authentication tag is shorter than 16 bytes', () => {
    const raw = randomBytes(32);
    const cipher = cipherWith(`k1:${raw.toString('base64')}`);
    // An empty plaintext under an 8-byte tag: the payload ends inside the tag's 16 bytes, and GCM would check the
    // 8 bytes there (a 2^-64 forgery instead of 2^-128) unless the tag length is pinned.
    const iv = randomBytes(12);
    const sealer = createCipheriv('aes-256-gcm', raw, iv, { authTagLength: 8 });
    sealer.setAAD(Buffer.from('c', 'utf8'));
    const body = Buffer.concat([sealer.update('', 'utf8'), sealer.final()]);
    const short = `v1.k1.${Buffer.concat([iv, sealer.getAuthTag(), body]).toString('base64url')}`;
    expect(() => cipher.decrypt(short, 'c')).toThrow();
    expect(cipher.decrypt(cipher.encrypt('secret', 'c'), 'c')).toBe('secret');
  });

  it('refuses envelopes of another version, without a key id or without a payload', () => {
    const cipher = cipherWith(`k1:${key()}`);
    const payload = cipher.encrypt('secret', 'c').split('.')[2];
    for (const envelope of [
      `v3.k1.${payload}`,
      `k1.${payload}`,
      'v2.k1.',
      'v2.k1',
      'v2..',
      'v1.k1.',
      `v2.k9.${payload}`,
      `v1.k9.${payload}`,
      '',
    ]) {
      expect(() => cipher.decrypt(envelope, 'c')).toThrow('unknown encryption envelope or key id');
    }
  });

  it('rotates: old envelopes still decrypt, new ones use the first key', () => {
    const [oldKey, newKey] = [key(), key()];
    const before = cipherWith(`k1:${oldKey}`).encrypt('v', 'c');
    const rotated = cipherWith(`k2:${newKey},k1:${oldKey}`);
    expect(rotated.decrypt(before, 'c')).toBe('v');
    expect(rotated.isStale(before)).toBe(true);
    expect(rotated.encrypt('v', 'c')).toMatch(/^v2\.k2\./);
    expect(() => cipherWith(`k2:${newKey}`).decrypt(before, 'c')).toThrow(/key id/);
  });
});

describe('DataCipher key rotation', () => {
  const [oldKey, newKey] = [key(), key()];
  const rotated = cipherWith(`k2:${newKey},k1:${oldKey}`);

  it('names its key ids, active first, and the key id of an envelope', () => {
    expect(rotated.activeKeyId).toBe('k2');
    expect(rotated.keyIds).toEqual(['k2', 'k1']);
    expect(rotated.hasKey('k1')).toBe(true);
    expect(rotated.hasKey('k3')).toBe(false);
    expect(DataCipher.keyIdOf(cipherWith(`k1:${oldKey}`).encrypt('v', 'c'))).toBe('k1');
    for (const notAnEnvelope of ['', 'v1', 'v1.k1', 'v1..abc', 'v2.k1', 'v3.k1.abc', 'plain text'])
      expect(DataCipher.keyIdOf(notAnEnvelope)).toBeNull();
  });

  it('reseals under the active key: same plaintext, same context, new nonce', () => {
    const before = cipherWith(`k1:${oldKey}`).encrypt('张三|110101199003077777', 'orders.purchaser:ord_1');
    const after = rotated.reseal(before, 'orders.purchaser:ord_1');
    expect(after).toMatch(/^v2\.k2\./);
    expect(cipherWith(`k2:${newKey}`).decrypt(after, 'orders.purchaser:ord_1')).toBe('张三|110101199003077777');
    expect(() => rotated.decrypt(after, 'orders.purchaser:ord_2')).toThrow(EnvelopeError);
    // Already under the active key: sealed again all the same (callers skip those), never the same bytes.
    expect(rotated.reseal(after, 'orders.purchaser:ord_1')).not.toBe(after);
  });

  it('refuses to reseal what does not open, with an EnvelopeError that shows no key', () => {
    const before = cipherWith(`k1:${oldKey}`).encrypt('secret', 'c');
    const errors: unknown[] = [];
    for (const [envelope, context] of [
      [before, 'other context'],
      [before.replace('v2.k1.', 'v2.k9.'), 'c'],
      [`${before.slice(0, -4)}AAAA`, 'c'],
      ['garbage', 'c'],
    ]) {
      try {
        rotated.reseal(envelope, context);
      } catch (error) {
        errors.push(error);
      }
    }
    expect(errors).toHaveLength(4);
    for (const error of errors) {
      expect(error).toBeInstanceOf(EnvelopeError);
      expect(String((error as Error).stack)).not.toContain(oldKey.slice(0, 12));
      expect(String((error as Error).message)).not.toContain('secret');
    }
  });

  it('refuses a key id listed twice (one of the keys would silently shadow the other)', () => {
    expect(() => cipherWith(`k1:${newKey},k1:${oldKey}`)).toThrow("key id 'k1' is listed twice");
    expect(() => cipherWith(`k2:${newKey},k1:${oldKey},k2:${key()}`)).toThrow("key id 'k2' is listed twice");
  });
});

describe('DataCipher hygiene', () => {
  it('never shows key bytes when inspected, and never repeats a nonce', () => {
    const raw = randomBytes(32);
    const cipher = cipherWith(`k1:${raw.toString('base64')}`);
    const shown = inspect(cipher, { depth: 5, showHidden: true });
    const spacedHex = [...raw.subarray(0, 8)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
    expect(shown).not.toContain(spacedHex);
    expect(shown).not.toContain(raw.toString('hex').slice(0, 16));
    expect(shown).not.toContain(raw.toString('base64').slice(0, 16));
    const nonces = new Set<string>();
    for (let i = 0; i < 10_000; i++)
      nonces.add(Buffer.from(cipher.encrypt('x', 'c').split('.')[2], 'base64url').subarray(0, 24).toString('hex'));
    expect(nonces.size).toBe(10_000);
  });
});

describe('DataCipher.reader (envelopes read out of a byte buffer)', () => {
  const [k1, k2] = [key(), key()];
  const cipher = cipherWith(`k2:${k2},k1:${k1}`);
  const PREFIX = 'cards.code:';

  /** One record per envelope, `<subject>\t<envelope>\n`, and where each field sits: as an export's COPY text. */
  function recordsOf(pairs: Array<[subject: string, envelope: string]>) {
    const text = pairs.map(([subject, envelope]) => `${subject}\t${envelope}\n`).join('');
    const source = Buffer.from(text, 'latin1');
    let at = 0;
    const fields = pairs.map(([subject, envelope]) => {
      const subjectEnd = at + subject.length;
      const field = {
        subject: [at, subjectEnd] as const,
        envelope: [subjectEnd + 1, subjectEnd + 1 + envelope.length] as const,
      };
      at = field.envelope[1] + 1;
      return field;
    });
    return { source, fields };
  }

  /** What a call gives: the plaintext, or the error's class and message. */
  function outcome(open: () => Buffer | string): string {
    try {
      const opened = open();
      return `opened ${typeof opened === 'string' ? opened : opened.toString('utf8')}`;
    } catch (error) {
      return `${(error as Error).name}: ${(error as Error).message}`;
    }
  }

  it('opens what decrypt opens and refuses what it refuses, with the same errors, envelope after envelope', () => {
    const v2 = cipher.encrypt('K7QD9XMA2HJR5WPT|012345', `${PREFIX}100000000018`);
    const [, , payload] = v2.split('.');
    const tampered = Buffer.from(payload, 'base64url');
    tampered[30] ^= 0x01;
    const cases: Array<[string, string]> = [
      ['100000000018', v2],
      ['100000000018', cipherWith(`k1:${k1}`).encrypt('under the older key k1', `${PREFIX}100000000018`)],
      ['100000000026', sealV1('k1', k1, 'a v1 envelope (AES-GCM)', `${PREFIX}100000000026`)],
      ['100000000026', sealV1('k1', k1, 'a v1 envelope (AES-GCM)', `${PREFIX}100000000018`)],
      ['100000000034', v2],
      ['100000000018', `v2.k2.${tampered.toString('base64url')}`],
      ['100000000018', v2.replace('v2.k2.', 'v2.k1.')],
      ['100000000018', v2.replace('v2.k2.', 'v2.k9.')],
      ['100000000018', v2.replace('v2.', 'v3.')],
      ['100000000018', v2.slice(0, 'v2.k2.'.length + 40)],
      ['100000000018', 'v2.k2.'],
      ['100000000018', 'v2.k2'],
      ['100000000018', ''],
      ['100000000018', cipher.encrypt('', `${PREFIX}100000000018`)],
      ['100000000018', cipher.encrypt('张三 and a longer plaintext than the others', `${PREFIX}100000000018`)],
      ['100000000018', v2],
      // Plain base64, padding, whitespace: Buffer's decoder reads these; the reader must read them the same way.
      ['100000000018', `v2.k2.${Buffer.from(payload, 'base64url').toString('base64')}`],
      ['100000000018', `v2.k2.${payload.slice(0, 40)} ${payload.slice(40)}`],
      ['100000000018', `v2.k2.${payload}A`],
      // A subject that is not ASCII, and a key id that is not.
      ['10000000001é', cipher.encrypt('not ASCII', `${PREFIX}10000000001é`)],
      ['100000000018', v2.replace('v2.k2.', 'v2.k\u00e9.')],
    ];
    const { source, fields } = recordsOf(cases);
    const reader = cipher.reader(PREFIX);
    const outcomes = fields.map(({ subject, envelope }) =>
      outcome(() => reader.open(source, envelope[0], envelope[1], subject[0], subject[1])),
    );
    const expected = cases.map(([subject, envelope]) => outcome(() => cipher.decrypt(envelope, `${PREFIX}${subject}`)));
    expect(outcomes).toEqual(expected);
    // Not a vacuous comparison: both kinds of outcome are there.
    expect(outcomes.filter((text) => text.startsWith('opened'))).toHaveLength(10);
    expect(outcomes.filter((text) => text.startsWith('EnvelopeError'))).toHaveLength(11);
  });

  it('returns exactly this envelope’s plaintext from its scratch space, never bytes of an earlier one', () => {
    const subject = '100000000018';
    const long = cipher.encrypt('x'.repeat(500), `${PREFIX}${subject}`);
    const short = cipher.encrypt('short', `${PREFIX}${subject}`);
    const wrong = cipher.encrypt('sealed for another subject', `${PREFIX}100000000026`);
    const { source, fields } = recordsOf([
      [subject, long],
      [subject, short],
      [subject, wrong],
      [subject, sealV1('k1', k1, 'v1', `${PREFIX}${subject}`)],
      [subject, short],
    ]);
    const reader = cipher.reader(PREFIX);
    const open = (index: number) => {
      const { envelope, subject: at } = fields[index];
      return reader.open(source, envelope[0], envelope[1], at[0], at[1]);
    };
    expect(open(0).toString('latin1')).toBe('x'.repeat(500));
    expect(open(1).toString('latin1')).toBe('short');
    // A failure throws: it does not hand back what the scratch space held.
    expect(() => open(2)).toThrow(EnvelopeError);
    expect(open(3).toString('latin1')).toBe('v1');
    expect(open(4).toString('latin1')).toBe('short');
  });
});
