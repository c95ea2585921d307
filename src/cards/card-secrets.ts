/**
 * The stored forms of a card's secret (SECURITY.md): the blind index, an HMAC of the code that is the only lookup
 * path (unique index), the PIN digest, an HMAC of the serial and PIN, and the sealed code and PIN, an AES-256-GCM
 * envelope from DataCipher with the card's serial bound as associated data.
 *
 * Keys: CODE_PEPPER lists peppers by id, newest first (a bare value is the pepper `p0`). From each, HKDF-SHA256
 * (RFC 5869) derives two independent keys, one for blind indexes and one for PIN digests, so neither HMAC keys the
 * other. A card records the pepper id it was indexed under (cards.code_key_id); lookups try the current pepper and
 * then the older ones, so cards keep verifying through a rotation, and the re-encryption job re-indexes them under
 * the current one. Cards minted before key ids (code_key_id NULL, shown as LEGACY_CODE_KEY_ID) were indexed with the
 * raw pepper `p0` for both HMACs; they are looked up and checked that way until re-indexed.
 */
import { createHmac, createSecretKey, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { isValidCode, isValidPin, isValidSerial } from './card-code';

/** Bytes of a blind index (HMAC-SHA256). */
export const BLIND_INDEX_BYTES = 32;
const MIN_PEPPER_BYTES = 32;
/** The id a bare CODE_PEPPER value (no `id:`) gets, and the pepper that indexed cards minted before key ids. */
export const BARE_PEPPER_ID = 'p0';
/** How cards indexed before key ids (code_key_id NULL) are counted and named: the raw pepper `p0`. */
export const LEGACY_CODE_KEY_ID = 'legacy';
/** HKDF `info` of each derived key: one purpose each, versioned so that a change of scheme gets other keys. */
const BLIND_INDEX_INFO = 'fuli/card-code-blind-index/v1';
const PIN_DIGEST_INFO = 'fuli/card-pin-digest/v1';

export interface CardSecret {
  /** Canonical 16-character code. */
  code: string;
  /** 6 digits. */
  pin: string;
}

/** A blind index under one pepper: the value to look up, and the key id a card found by it was indexed under. */
export interface BlindIndexCandidate {
  /** A pepper id, or null: a card minted before key ids (raw pepper `p0`). */
  keyId: string | null;
  hash: Buffer;
}

/** What re-indexing a card under the current pepper stores. */
export interface CardIndex {
  keyId: string;
  codeHash: Buffer;
  pinHash: Buffer;
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

interface PepperKeys {
  index: KeyObject;
  pin: KeyObject;
}

/**
 * CODE_PEPPER as `[id, bytes]` pairs, newest first: `base64` alone (the pepper `p0`) or `id:base64,id:base64,…`.
 * Throws CardSecretError (naming ids only) for a short pepper, a repeated or reserved id.
 */
export function parsePeppers(value: string): Array<[string, Buffer]> {
  const pairs = value.includes(':')
    ? value.split(',').map((pair): [string, string] => {
        const at = pair.indexOf(':');
        return [pair.slice(0, at), pair.slice(at + 1)];
      })
    : [[BARE_PEPPER_ID, value] as [string, string]];
  const ids = new Set<string>();
  return pairs.map(([id, base64]) => {
    if (!/^[A-Za-z0-9_-]+$/.test(id) || id === LEGACY_CODE_KEY_ID) {
      throw new CardSecretError(`CODE_PEPPER: '${id}' is not a usable pepper id`);
    }
    if (ids.has(id)) throw new CardSecretError(`CODE_PEPPER: pepper id '${id}' is listed twice`);
    ids.add(id);
    const bytes = Buffer.from(base64, 'base64');
    // Buffer's base64 decoder skips characters it does not know: check what came out, not the input's length.
    if (bytes.length < MIN_PEPPER_BYTES) {
      throw new CardSecretError(
        `CODE_PEPPER: pepper '${id}' must decode to at least ${MIN_PEPPER_BYTES} bytes of base64`,
      );
    }
    return [id, bytes];
  });
}

const derive = (pepper: Buffer, info: string) =>
  createSecretKey(Buffer.from(hkdfSync('sha256', pepper, Buffer.alloc(0), info, 32)));

/**
 * Blind index, PIN digest and sealing of card codes and PINs. The keys and the cipher are ECMAScript private
 * fields, so that logging or serialising this service (util.inspect, JSON.stringify, a framework dumping
 * providers) shows neither the peppers nor DataCipher's keys.
 */
@Injectable()
export class CardSecrets {
  readonly #keys: Map<string, PepperKeys>;
  readonly #current: PepperKeys;
  /** The raw pepper `p0`, for cards indexed before key ids; null when no `p0` is configured. */
  readonly #legacy: KeyObject | null;
  readonly #cipher: DataCipher;
  /** The pepper id new cards are indexed under (the first of CODE_PEPPER). */
  readonly blindIndexKeyId: string;

  constructor(config: AppConfig, cipher: DataCipher) {
    const peppers = parsePeppers(config.CODE_PEPPER ?? '');
    this.#keys = new Map(
      peppers.map(([id, bytes]) => [
        id,
        { index: derive(bytes, BLIND_INDEX_INFO), pin: derive(bytes, PIN_DIGEST_INFO) },
      ]),
    );
    this.blindIndexKeyId = peppers[0][0];
    this.#current = this.#keys.get(this.blindIndexKeyId)!;
    const bare = peppers.find(([id]) => id === BARE_PEPPER_ID);
    this.#legacy = bare ? createSecretKey(bare[1]) : null;
    this.#cipher = cipher;
  }

  /** Every configured pepper id, current first (ids only: never key bytes). */
  get blindIndexKeyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /**
   * HMAC-SHA256 of a canonical code (normaliseCode, then isValidCode) under the current pepper's blind-index key:
   * the unique-indexed lookup column. Throws for anything else, so that no caller stores or looks up the index of
   * a non-normalised form.
   */
  blindIndex(normalisedCode: string): Buffer {
    if (!isValidCode(normalisedCode)) throw new CardSecretError('blind index: not a normalised, valid card code');
    return createHmac('sha256', this.#current.index).update(normalisedCode, 'latin1').digest();
  }

  /**
   * The code's blind index under every configured pepper, current first, then the legacy form: what a lookup
   * matches against, so that a card indexed under an older pepper is still found.
   */
  blindIndexCandidates(normalisedCode: string): BlindIndexCandidate[] {
    if (!isValidCode(normalisedCode)) throw new CardSecretError('blind index: not a normalised, valid card code');
    const candidates: BlindIndexCandidate[] = [...this.#keys].map(([keyId, keys]) => ({
      keyId,
      hash: createHmac('sha256', keys.index).update(normalisedCode, 'latin1').digest(),
    }));
    if (this.#legacy) {
      candidates.push({
        keyId: null,
        hash: createHmac('sha256', this.#legacy).update(normalisedCode, 'latin1').digest(),
      });
    }
    return candidates;
  }

  /**
   * HMAC-SHA256(PIN-digest key, `pin:<serial>:<pin>`): the stored PIN check (cards.pin_hash), under the current
   * pepper or the card's own (`keyId`, null: legacy). Bound to the serial, so equal PINs of two cards differ, and
   * keyed, so the digest alone does not give the PIN away.
   */
  pinDigest(serial: string, pin: string, keyId: string | null = this.blindIndexKeyId): Buffer {
    if (!isValidSerial(serial)) throw new CardSecretError('pin digest: not a card serial');
    if (!isValidPin(pin)) throw new CardSecretError('pin digest: a PIN is 6 digits');
    // The current pepper first: minting digests every card under it (no map lookup on that path).
    const key =
      keyId === this.blindIndexKeyId ? this.#current.pin : keyId === null ? this.#legacy : this.#keys.get(keyId)?.pin;
    if (!key) throw new CardSecretError(`pin digest: pepper '${keyId ?? LEGACY_CODE_KEY_ID}' is not configured`);
    return createHmac('sha256', key).update(`pin:${serial}:${pin}`, 'latin1').digest();
  }

  /**
   * Whether `pin` is the card's PIN by its stored digest made under pepper `keyId` (null: legacy), compared in
   * constant time; false for a malformed PIN.
   */
  pinDigestMatches(serial: string, pin: string, digest: Buffer, keyId: string | null = this.blindIndexKeyId): boolean {
    if (!isValidPin(pin) || digest.length !== BLIND_INDEX_BYTES) return false;
    return timingSafeEqual(this.pinDigest(serial, pin, keyId), digest);
  }

  /**
   * The card's blind index and PIN digest under the current pepper, from its envelope (pepper rotation). Throws
   * CardSecretError when the envelope does not open for this card.
   */
  reindex(serial: string, envelope: string): CardIndex {
    const { code, pin } = this.open(serial, envelope);
    return { keyId: this.blindIndexKeyId, codeHash: this.blindIndex(code), pinHash: this.pinDigest(serial, pin) };
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
