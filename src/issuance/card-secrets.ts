/**
 * The two stored forms of a card's secret (DESIGN.md §5): the blind index, an HMAC of the code that is the
 * only lookup path (unique index), and the sealed code and PIN, an AES-256-GCM envelope from DataCipher with
 * the card's serial bound as associated data.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { isValidCode, isValidPin, isValidSerial } from './card-code';

/** Bytes of a blind index (HMAC-SHA256). */
export const BLIND_INDEX_BYTES = 32;
const MIN_PEPPER_BYTES = 32;

export interface CardSecret {
  /** Canonical 16-character code. */
  code: string;
  /** 6 digits. */
  pin: string;
}

/**
 * Why a secret could not be sealed or opened. Messages name the failing check only: never a code, PIN, key or
 * pepper (they end up in logs), and the serial is left to the caller, which knows whether to show it.
 */
export class CardSecretError extends Error {
  override readonly name = 'CardSecretError';
}

/** Associated data of a card's envelope: an envelope copied onto another card (another serial) does not open. */
const contextOf = (serial: string) => `cards.code:${serial}`;

/**
 * Blind index and sealing of card codes and PINs. The pepper and the cipher are ECMAScript private fields, so
 * that logging or serialising this service (util.inspect, JSON.stringify, a framework dumping providers) shows
 * neither the pepper nor DataCipher's keys.
 */
@Injectable()
export class CardSecrets {
  readonly #pepper: Buffer;
  readonly #cipher: DataCipher;

  constructor(config: AppConfig, cipher: DataCipher) {
    const pepper = Buffer.from(config.CODE_PEPPER ?? '', 'base64');
    // Buffer's base64 decoder skips characters it does not know: check what came out, not the input's length.
    if (pepper.length < MIN_PEPPER_BYTES) {
      throw new CardSecretError(`CODE_PEPPER must decode to at least ${MIN_PEPPER_BYTES} bytes of base64`);
    }
    this.#pepper = pepper;
    this.#cipher = cipher;
  }

  /**
   * HMAC-SHA256(pepper, code) of a canonical code (normaliseCode, then isValidCode): the unique-indexed lookup
   * column. Throws for anything else, so that no caller stores or looks up the index of a non-normalised form.
   */
  blindIndex(normalisedCode: string): Buffer {
    if (!isValidCode(normalisedCode)) throw new CardSecretError('blind index: not a normalised, valid card code');
    return createHmac('sha256', this.#pepper).update(normalisedCode, 'latin1').digest();
  }

  /**
   * HMAC-SHA256(pepper, `pin:<serial>:<pin>`): the stored PIN check (cards.pin_hash). Bound to the serial, so equal
   * PINs of two cards differ, and keyed, so the digest alone does not give the PIN away.
   */
  pinDigest(serial: string, pin: string): Buffer {
    if (!isValidSerial(serial)) throw new CardSecretError('pin digest: not a card serial');
    if (!isValidPin(pin)) throw new CardSecretError('pin digest: a PIN is 6 digits');
    return createHmac('sha256', this.#pepper).update(`pin:${serial}:${pin}`, 'latin1').digest();
  }

  /** Whether `pin` is the card's PIN by its stored digest, compared in constant time; false for a malformed PIN. */
  pinDigestMatches(serial: string, pin: string, digest: Buffer): boolean {
    if (!isValidPin(pin) || digest.length !== BLIND_INDEX_BYTES) return false;
    return timingSafeEqual(this.pinDigest(serial, pin), digest);
  }

  /**
   * `code|pin` sealed under the active data key, bound to `serial`: `v1.<key id>.<base64url(iv|tag|ct)>`.
   * The key id travels in the envelope, so rotation (a new first key) leaves old envelopes readable.
   */
  seal(serial: string, code: string, pin: string): string {
    if (!isValidSerial(serial)) throw new CardSecretError('seal: not a card serial');
    if (!isValidCode(code)) throw new CardSecretError('seal: not a normalised, valid card code');
    if (!isValidPin(pin)) throw new CardSecretError('seal: a PIN is 6 digits');
    return this.#cipher.encrypt(`${code}|${pin}`, contextOf(serial));
  }

  /**
   * The code and PIN sealed for `serial`. Throws CardSecretError when the envelope was sealed for another card,
   * was altered, or names a key that is no longer configured.
   */
  open(serial: string, envelope: string): CardSecret {
    let plaintext: string;
    try {
      plaintext = this.#cipher.decrypt(envelope, contextOf(serial));
    } catch (cause) {
      // DataCipher's and OpenSSL's messages carry no key material; keep them as the cause for diagnosis.
      throw new CardSecretError('card secret envelope does not open for this card', { cause });
    }
    const separator = plaintext.indexOf('|');
    const code = plaintext.slice(0, separator);
    const pin = plaintext.slice(separator + 1);
    // Authenticated, so only a bug at sealing time could get here; still, never hand out a malformed secret.
    if (separator < 0 || !isValidCode(code) || !isValidPin(pin)) {
      throw new CardSecretError('card secret envelope holds no code and PIN');
    }
    return { code, pin };
  }

  /** Whether the envelope was sealed under an older key: a re-encryption job opens and seals it again. */
  needsReseal(envelope: string): boolean {
    return this.#cipher.isStale(envelope);
  }

  /**
   * The card's code and PIN sealed again under the active key, still bound to `serial` (key rotation). Opens
   * and checks the envelope as `open` does, so a re-seal never turns a damaged or foreign envelope into a
   * valid one; throws CardSecretError when it does not open for this card.
   */
  reseal(serial: string, envelope: string): string {
    const { code, pin } = this.open(serial, envelope);
    return this.seal(serial, code, pin);
  }
}
