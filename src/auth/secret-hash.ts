import { createHmac, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';

const scrypt = (password: string, salt: Buffer, length: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCallback(password, salt, length, options, (error, key) => (error ? reject(error) : resolve(key))),
  );

const HMAC_SCHEME = 'hmac-sha256';

/**
 * Legacy scrypt hashes (`scrypt$N$r$p$salt$hash`, N=2^15: about 100 ms of CPU and 32 MiB each) are checked at
 * most this many at a time, so a burst of token requests for such clients queues here instead of starving the
 * event loop's thread pool and every other request with it.
 */
const MAX_CONCURRENT_SCRYPT = 2;
let scryptRunning = 0;
const scryptWaiting: Array<() => void> = [];

async function limitedScrypt(secret: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  if (scryptRunning >= MAX_CONCURRENT_SCRYPT) await new Promise<void>((resolve) => scryptWaiting.push(resolve));
  else scryptRunning++;
  try {
    return await scrypt(secret, salt, length, options);
  } finally {
    // Hand the slot straight to the next waiter, or free it.
    const next = scryptWaiting.shift();
    if (next) next();
    else scryptRunning--;
  }
}

async function verifyScrypt(secret: string, stored: string): Promise<boolean> {
  const [, n, r, p, salt, expected] = stored.split('$');
  if (!salt || !expected) return false;
  const expectedKey = Buffer.from(expected, 'base64');
  const key = await limitedScrypt(secret, Buffer.from(salt, 'base64'), expectedKey.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return timingSafeEqual(key, expectedKey);
}

/**
 * Client secrets are 192 random bits, so a slow password KDF buys nothing against guessing and costs a CPU-bound
 * DoS lever on the token endpoint: they are stored as HMAC-SHA-256 under the server key CLIENT_SECRET_KEY
 * (`hmac-sha256$<base64>`), which without the key is useless to whoever reads the table. Hashes made before
 * (`scrypt$…`) still verify, and ApiClientsService replaces each with an HMAC on its next successful use.
 */
@Injectable()
export class SecretHasher {
  private readonly key: Buffer;

  constructor(config: AppConfig) {
    this.key = Buffer.from(config.CLIENT_SECRET_KEY, 'base64');
  }

  hash(secret: string): string {
    return `${HMAC_SCHEME}$${this.mac(secret).toString('base64')}`;
  }

  async verify(secret: string, stored: string): Promise<boolean> {
    const scheme = stored.slice(0, stored.indexOf('$'));
    if (scheme === HMAC_SCHEME) {
      const expected = Buffer.from(stored.slice(HMAC_SCHEME.length + 1), 'base64');
      const actual = this.mac(secret);
      return expected.length === actual.length && timingSafeEqual(actual, expected);
    }
    if (scheme === 'scrypt') return verifyScrypt(secret, stored);
    return false;
  }

  /** A hash of the old scheme, to be replaced once the secret is seen again. */
  isLegacy(stored: string): boolean {
    return !stored.startsWith(`${HMAC_SCHEME}$`);
  }

  /** Same work as a real check, for unknown client ids: answers take as long whether the id exists or not. */
  dummyCheck(secret: string): void {
    this.mac(secret);
  }

  private mac(secret: string): Buffer {
    return createHmac('sha256', this.key).update(secret, 'utf8').digest();
  }
}

/** A new client secret: 192 random bits, prefixed so scanners recognise a leaked one. */
export function newClientSecret(): string {
  return `fsk_${randomBytes(24).toString('base64url')}`;
}
