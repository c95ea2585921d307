import { randomBytes } from 'node:crypto';
import {
  groupPaymentCode,
  matchPaymentCode,
  newPaymentKeyNumber,
  parsePaymentCode,
  paymentCodeOf,
  paymentCodeOtp,
  paymentCodeStep,
  refusalOf,
  RECOGNISED_PAST_WINDOWS,
} from './payment-code';

describe('payment codes', () => {
  const secret = randomBytes(32);
  const keyNumber = 123_456_789;

  // Seven digits of an HMAC repeat by chance (birthday bound: about 10,000² / 2 / 10⁷ = 5 pairs in 10,000 codes): a
  // repeated code is harmless, since a code is checked against its key's window and count of uses, not looked up.
  it('10,000 codes of one card are 18 digits, distinct but for chance repeats, and never valid after their window', () => {
    const codes = new Set<string>();
    const step0 = 29_000_000;
    // 100 windows × 100 uses: every code a card could show over them.
    for (let step = step0; step < step0 + 100; step++) {
      for (let uses = 0; uses < 100; uses++) {
        const code = paymentCodeOf(keyNumber, secret, step, uses);
        expect(code).toMatch(/^68\d{16}$/);
        codes.add(code);
      }
    }
    expect(codes.size).toBeGreaterThan(10_000 - 25);
    // A sample checked exhaustively against the windows after its own: accepted in the next one, never later.
    for (let uses = 0; uses < 100; uses += 7) {
      const otp = paymentCodeOtp(secret, step0, uses);
      expect(matchPaymentCode(secret, otp, uses, step0)).toBe('current');
      expect(matchPaymentCode(secret, otp, uses, step0 + 1)).toBe('previous');
      for (let later = 2; later <= 20; later++) expect(matchPaymentCode(secret, otp, uses, step0 + later)).toBeNull();
    }
  });

  it('a code is no longer valid once its key has spent it, in its own window or the next', () => {
    const step = 29_000_123;
    const otp = paymentCodeOtp(secret, step, 4);
    expect(matchPaymentCode(secret, otp, 5, step)).toBeNull();
    expect(matchPaymentCode(secret, otp, 5, step + 1)).toBeNull();
    expect(refusalOf(secret, otp, 5, step)).toBe('used');
    expect(refusalOf(secret, otp, 5, step + 1)).toBe('used');
  });

  it('tells an expired code from an unknown one, within the windows it still recognises', () => {
    const step = 29_000_500;
    const otp = paymentCodeOtp(secret, step - 2, 3);
    expect(matchPaymentCode(secret, otp, 3, step)).toBeNull();
    expect(refusalOf(secret, otp, 3, step)).toBe('expired');
    expect(refusalOf(secret, paymentCodeOtp(secret, step - RECOGNISED_PAST_WINDOWS - 1, 3), 3, step)).toBe('invalid');
    expect(refusalOf(randomBytes(32), otp, 3, step)).toBe('invalid');
  });

  it("another key's code does not match (the secret, not the number, makes the code)", () => {
    const other = randomBytes(32);
    const step = 29_000_900;
    let matches = 0;
    for (let uses = 0; uses < 1_000; uses++) {
      if (matchPaymentCode(secret, paymentCodeOtp(other, step, uses), uses, step)) matches++;
    }
    expect(matches).toBeLessThan(2);
  });

  it('parses its own codes, with or without separators, and refuses anything else', () => {
    const code = paymentCodeOf(keyNumber, secret, 1, 0);
    expect(parsePaymentCode(code)).toEqual({ keyNumber, otp: code.slice(11) });
    expect(parsePaymentCode(`${code.slice(0, 6)} ${code.slice(6, 12)}-${code.slice(12)}`)).toEqual({
      keyNumber,
      otp: code.slice(11),
    });
    expect(parsePaymentCode(code.slice(1))).toBeNull();
    expect(parsePaymentCode(`13${code.slice(2)}`)).toBeNull();
    expect(parsePaymentCode(`68000000001${code.slice(11)}`)).toBeNull();
    expect(parsePaymentCode(`${code.slice(0, 17)}x`)).toBeNull();
  });

  it('groups a code for reading as payment apps do, and the grouped code still parses to it', () => {
    expect(groupPaymentCode('681234567890123456')).toBe('68 1234 5678 9012 3456');
    const code = paymentCodeOf(keyNumber, secret, 7, 3);
    expect(parsePaymentCode(groupPaymentCode(code))).toEqual(parsePaymentCode(code));
  });

  it('windows follow the clock; key numbers are nine digits', () => {
    expect(paymentCodeStep(59_999, 60)).toBe(0);
    expect(paymentCodeStep(60_000, 60)).toBe(1);
    for (let i = 0; i < 100; i++) expect(String(newPaymentKeyNumber())).toMatch(/^[1-9]\d{8}$/);
  });
});
