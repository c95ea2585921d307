import { Webhook } from 'standardwebhooks';
import { AppConfig } from '../config/app-config';
import {
  MAX_RETRY_AFTER_MS,
  newWebhookSecret,
  nextAttemptDelay,
  parseRetryAfter,
  signatureHeader,
} from './webhook-signing';

describe('signatureHeader', () => {
  const body = JSON.stringify({ id: 'evt_1', type: 'order.paid', data: { order_id: 'ord_1', amount: 12_345 } });
  const now = Math.floor(Date.now() / 1000);

  it('verifies with the standardwebhooks library', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const headers = { 'webhook-id': 'evt_1', 'webhook-timestamp': String(now) };
    const signature = signatureHeader('evt_1', now, body, [secret]);
    expect(signature).toBe(new Webhook(secret).sign('evt_1', new Date(now * 1000), body));
    expect(new Webhook(secret).verify(body, { ...headers, 'webhook-signature': signature })).toEqual(JSON.parse(body));
  });

  it('signs with every secret during a rotation, and each one verifies alone', () => {
    const [next, previous, stranger] = [newWebhookSecret(), newWebhookSecret(), newWebhookSecret()];
    const signature = signatureHeader('evt_2', now, body, [next, previous]);
    expect(signature.split(' ')).toHaveLength(2);
    const headers = { 'webhook-id': 'evt_2', 'webhook-timestamp': String(now), 'webhook-signature': signature };
    expect(() => new Webhook(next).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(previous).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(stranger).verify(body, headers)).toThrow();
  });

  it('binds the id, the timestamp and every byte of the body', () => {
    const secret = newWebhookSecret();
    const signature = signatureHeader('evt_3', now, body, [secret]);
    const verify = (id: string, timestamp: number, payload: string) =>
      new Webhook(secret).verify(payload, {
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      });
    expect(() => verify('evt_3', now, body)).not.toThrow();
    expect(() => verify('evt_4', now, body)).toThrow();
    expect(() => verify('evt_3', now + 1, body)).toThrow();
    expect(() => verify('evt_3', now, body.replace('12345', '12346'))).toThrow();
  });

  it('refuses a secret without the whsec_ prefix', () => {
    expect(() => signatureHeader('evt_1', now, body, ['c2VjcmV0'])).toThrow(/whsec_/);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 10, 28, 12, 0, 0);

  it('reads delay-seconds and HTTP-dates, caps them, and ignores what it cannot read', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sat, 28 Nov 2026 12:05:00 GMT', now)).toBe(300_000);
    expect(parseRetryAfter('Sat, 28 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('999999999', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });
});

describe('nextAttemptDelay', () => {
  const schedule = [0, 5_000, 300_000, 1_800_000];

  it('follows the schedule and stops at its end', () => {
    expect(nextAttemptDelay(schedule, 1, null)).toBe(5_000);
    expect(nextAttemptDelay(schedule, 2, null)).toBe(300_000);
    expect(nextAttemptDelay(schedule, 3, null)).toBe(1_800_000);
    expect(nextAttemptDelay(schedule, 4, null)).toBeNull();
  });

  it("lets a receiver's Retry-After push the next attempt later, never earlier", () => {
    expect(nextAttemptDelay(schedule, 1, 60_000)).toBe(60_000);
    expect(nextAttemptDelay(schedule, 2, 60_000)).toBe(300_000);
    expect(nextAttemptDelay(schedule, 4, 60_000)).toBeNull();
  });

  it('by default starts at once, grows, and spans about three days', () => {
    const defaults = new AppConfig().webhookRetrySchedule;
    expect(defaults[0]).toBe(0);
    for (let i = 1; i < defaults.length; i++) expect(defaults[i]).toBeGreaterThanOrEqual(defaults[i - 1]);
    const days = defaults.reduce((sum, ms) => sum + ms, 0) / 86_400_000;
    expect(days).toBeGreaterThan(3);
    expect(days).toBeLessThan(3.5);
  });
});
