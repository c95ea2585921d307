import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson, digestOf, sha256Hex } from './canonical-json';
import { requestFingerprint } from '../idempotency/idempotency.interceptor';

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}',
    );
  });

  it('sorts by UTF-16 code units, as RFC 8785 does', () => {
    expect(canonicalJson({ é: 1, z: 2, A: 3, '10': 4, '9': 5, '\u{1F600}': 6, '\uFFFF': 7 })).toBe(
      '{"10":4,"9":5,"A":3,"z":2,"é":1,"\u{1F600}":6,"\uFFFF":7}',
    );
  });

  it('follows JSON.stringify for values it has no opinion on', () => {
    const date = new Date('2025-01-02T03:04:05.678Z');
    expect(
      canonicalJson({ when: date, gone: undefined, fn: () => 1, list: [undefined, NaN, Infinity, -0, 1.5e-7] }),
    ).toBe('{"list":[null,null,null,0,1.5e-7],"when":"2025-01-02T03:04:05.678Z"}');
    expect(canonicalJson('plain "quoted" \n text')).toBe(JSON.stringify('plain "quoted" \n text'));
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('writes BigInts as decimal strings instead of throwing', () => {
    expect(canonicalJson({ amount: 12345678901234567890n })).toBe('{"amount":"12345678901234567890"}');
  });

  it('refuses cycles but allows the same object twice', () => {
    const shared = { a: 1 };
    expect(canonicalJson([shared, shared])).toBe('[{"a":1},{"a":1}]');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(TypeError);
  });

  it('property: parses back to the value JSON.stringify gives, and is stable through that parse', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const canonical = canonicalJson(value);
        const reparsed = JSON.parse(canonical) as unknown;
        expect(reparsed).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(reparsed)).toBe(canonical);
      }),
    );
  });

  it('property: key order never changes the output', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        return canonicalJson(reversed) === canonicalJson(record);
      }),
    );
  });
});

describe('sha256Hex and digestOf', () => {
  it('match the FIPS 180-2 test vector', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('digest the canonical JSON text, UTF-8 encoded', () => {
    expect(digestOf('福利')).toBe(sha256Hex('"福利"'));
    expect(sha256Hex('福利')).toBe(
      createHash('sha256')
        .update(Buffer.from([0xe7, 0xa6, 0x8f, 0xe5, 0x88, 0xa9]))
        .digest('hex'),
    );
  });

  it('give equal digests to equal values built in different orders', () => {
    expect(digestOf({ a: 1, b: [1, 2] })).toBe(digestOf({ b: [1, 2], a: 1 }));
    expect(digestOf({ a: 1, b: [1, 2] })).not.toBe(digestOf({ a: 1, b: [2, 1] }));
  });
});

describe('requestFingerprint', () => {
  it('matches for the same request in any key order and differs for another', () => {
    const a = requestFingerprint('POST', '/v1/x', { a: 1, b: 2 });
    expect(requestFingerprint('POST', '/v1/x', { b: 2, a: 1 })).toBe(a);
    expect(requestFingerprint('POST', '/v1/x', { a: 1, b: 3 })).not.toBe(a);
    expect(requestFingerprint('POST', '/v1/y', { a: 1, b: 2 })).not.toBe(a);
  });
});
