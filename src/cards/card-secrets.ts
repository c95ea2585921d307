/**
 * The stored forms of a card's secret (SECURITY.md): the blind index, a keyed hash of the code that is the only
 * lookup path (unique index), the PIN digest, a keyed hash of the serial and PIN, and the sealed code and PIN, a
 * DataCipher envelope (XChaCha20-Poly1305) with the card's serial bound as associated data.
 *
 * Keys: CODE_PEPPER lists peppers by id, newest first (a bare value is the pepper `p0`). From each, HKDF-SHA256
 * (RFC 5869) derives independent keys, one for blind indexes and one for PIN digests, so neither keys the other.
 * Both are keyed BLAKE2b-256 (libsodium's crypto_generichash with a key: ≈ 4× cheaper than Node's HMAC-SHA256 per
 * call, docs/decisions/0005-envelope-format-v2-sodium.md). A card records the index key id it was indexed under
 * (cards.code_key_id): `<pepper id>.b2` for keyed BLAKE2b; a bare `<pepper id>` for the earlier HMAC-SHA256 scheme,
 * whose rows keep verifying (lookups try every configured pepper under both schemes, current first) until the
 * re-encryption job re-indexes them under the current key id. Cards minted before key ids (code_key_id NULL, shown
 * as LEGACY_CODE_KEY_ID) were indexed with HMAC-SHA256 under the raw pepper `p0`; they are looked up and checked
 * that way until re-indexed.
 */
import { createHmac, createSecretKey, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import sodium from 'sodium-native';
import { AppConfig } from '../config/app-config';
import { DataCipher, type EnvelopeReader } from '../common/crypto/data-cipher.service';
import { CODE_LENGTH, isValidCode, isValidCodeAt, isValidPin, isValidSerial, PIN_LENGTH } from './card-code';

/** Bytes of a blind index and of a PIN digest (BLAKE2b-256, or HMAC-SHA256 for earlier rows). */
export const BLIND_INDEX_BYTES = 32;
const MIN_PEPPER_BYTES = 32;
/** The id a bare CODE_PEPPER value (no `id:`) gets, and the pepper that indexed cards minted before key ids. */
export const BARE_PEPPER_ID = 'p0';
/** How cards indexed before key ids (code_key_id NULL) are counted and named: the raw pepper `p0`. */
export const LEGACY_CODE_KEY_ID = 'legacy';
/** HKDF `info` of each derived key: one purpose each, versioned so that a change of scheme gets other keys. */
const BLIND_INDEX_INFO = 'fuli/card-code-blind-index/v1';
const PIN_DIGEST_INFO = 'fuli/card-pin-digest/v1';
const BLAKE2B_INDEX_INFO = 'fuli/card-code-blind-index/v2-blake2b';
const BLAKE2B_PIN_INFO = 'fuli/card-pin-digest/v2-blake2b';
/** What an index key id of the keyed-BLAKE2b scheme adds to its pepper id (pepper ids never hold a dot). */
const BLAKE2B_SUFFIX = '.b2';

/** The pepper an index key id (cards.code_key_id) was made from: `p1.b2` and `p1` are both the pepper `p1`. */
export function pepperIdOf(indexKeyId: string): string {
  return indexKeyId.endsWith(BLAKE2B_SUFFIX) ? indexKeyId.slice(0, -BLAKE2B_SUFFIX.length) : indexKeyId;
}

export interface CardSecret {
  /** Canonical 16-character code. */
  code: string;
  /** 6 digits. */
  pin: string;
}

/** A blind index under one index key: the value to look up, and the key id a card found by it was indexed under. */
export interface BlindIndexCandidate {
  /** An index key id (`<pepper>.b2`, or `<pepper>` for HMAC-SHA256), or null: before key ids (raw pepper `p0`). */
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
const CONTEXT_PREFIX = 'cards.code:';
const contextOf = (serial: string) => `${CONTEXT_PREFIX}${serial}`;

/** An opened card envelope is `code|pin`: the code's 16 ASCII bytes from here, */
export const OPENED_CODE_AT = 0;
/** then `|`, then the PIN's 6 digits from here. */
export const OPENED_PIN_AT = CODE_LENGTH + 1;
const OPENED_BYTES = OPENED_PIN_AT + PIN_LENGTH;
const PIPE = 0x7c;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

interface PepperKeys {
  /** Keyed BLAKE2b (libsodium takes raw key bytes). */
  index: Buffer;
  pin: Buffer;
  /** HMAC-SHA256, for rows indexed before BLAKE2b (code_key_id a bare pepper id). */
  hmacIndex: KeyObject;
  hmacPin: KeyObject;
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

const derive = (pepper: Buffer, info: string) => Buffer.from(hkdfSync('sha256', pepper, Buffer.alloc(0), info, 32));

/** Keyed BLAKE2b-256 of latin1 text. */
function blake2b(key: Buffer, text: string): Buffer {
  const out = Buffer.allocUnsafe(BLIND_INDEX_BYTES);
  sodium.crypto_generichash(out, Buffer.from(text, 'latin1'), key);
  return out;
}

const hmac = (key: KeyObject, text: string) => createHmac('sha256', key).update(text, 'latin1').digest();

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
  /** The index key id new cards are indexed under: `<first pepper of CODE_PEPPER>.b2`. */
  readonly blindIndexKeyId: string;
  /** The pepper new cards are indexed under (the first of CODE_PEPPER). */
  readonly currentPepperId: string;

  constructor(config: AppConfig, cipher: DataCipher) {
    const peppers = parsePeppers(config.CODE_PEPPER ?? '');
    this.#keys = new Map(
      peppers.map(([id, bytes]) => [
        id,
        {
          index: derive(bytes, BLAKE2B_INDEX_INFO),
          pin: derive(bytes, BLAKE2B_PIN_INFO),
          hmacIndex: createSecretKey(derive(bytes, BLIND_INDEX_INFO)),
          hmacPin: createSecretKey(derive(bytes, PIN_DIGEST_INFO)),
        },
      ]),
    );
    this.currentPepperId = peppers[0][0];
    this.blindIndexKeyId = `${this.currentPepperId}${BLAKE2B_SUFFIX}`;
    this.#current = this.#keys.get(this.currentPepperId)!;
    const bare = peppers.find(([id]) => id === BARE_PEPPER_ID);
    this.#legacy = bare ? createSecretKey(bare[1]) : null;
    this.#cipher = cipher;
  }

  /** Every configured pepper id, current first (ids only: never key bytes). */
  get pepperIds(): string[] {
    return [...this.#keys.keys()];
  }

  /**
   * Keyed BLAKE2b-256 of a canonical code (normaliseCode, then isValidCode) under the current pepper's blind-index
   * key: the unique-indexed lookup column. Throws for anything else, so that no caller stores or looks up the index
   * of a non-normalised form.
   */
  blindIndex(normalisedCode: string): Buffer {
    if (!isValidCode(normalisedCode)) throw new CardSecretError('blind index: not a normalised, valid card code');
    return blake2b(this.#current.index, normalisedCode);
  }

  /**
   * The code's blind index under every configured pepper, current first, each under keyed BLAKE2b and then under
   * the earlier HMAC-SHA256, then the legacy form: what a lookup matches against, so that a card indexed under an
   * older pepper or scheme is still found.
   */
  blindIndexCandidates(normalisedCode: string): BlindIndexCandidate[] {
    if (!isValidCode(normalisedCode)) throw new CardSecretError('blind index: not a normalised, valid card code');
    const candidates: BlindIndexCandidate[] = [...this.#keys].flatMap(([pepperId, keys]) => [
      { keyId: `${pepperId}${BLAKE2B_SUFFIX}`, hash: blake2b(keys.index, normalisedCode) },
      { keyId: pepperId, hash: hmac(keys.hmacIndex, normalisedCode) },
    ]);
    if (this.#legacy) candidates.push({ keyId: null, hash: hmac(this.#legacy, normalisedCode) });
    return candidates;
  }

  /**
   * Keyed hash of `pin:<serial>:<pin>` under the PIN-digest key: the stored PIN check (cards.pin_hash), under the
   * current index key or the card's own (`keyId`: BLAKE2b for `<pepper>.b2`, HMAC-SHA256 for a bare pepper id and
   * for null, the legacy raw pepper). Bound to the serial, so equal PINs of two cards differ, and keyed, so the
   * digest alone does not give the PIN away.
   */
  pinDigest(serial: string, pin: string, keyId: string | null = this.blindIndexKeyId): Buffer {
    if (!isValidSerial(serial)) throw new CardSecretError('pin digest: not a card serial');
    if (!isValidPin(pin)) throw new CardSecretError('pin digest: a PIN is 6 digits');
    const text = `pin:${serial}:${pin}`;
    // The current key first: minting digests every card under it (no map lookup on that path).
    if (keyId === this.blindIndexKeyId) return blake2b(this.#current.pin, text);
    if (keyId === null) {
      if (!this.#legacy) throw new CardSecretError(`pin digest: pepper '${LEGACY_CODE_KEY_ID}' is not configured`);
      return hmac(this.#legacy, text);
    }
    const keys = this.#keys.get(pepperIdOf(keyId));
    if (!keys) throw new CardSecretError(`pin digest: pepper '${keyId}' is not configured`);
    return keyId.endsWith(BLAKE2B_SUFFIX) ? blake2b(keys.pin, text) : hmac(keys.hmacPin, text);
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
   * `code|pin` sealed under the active data key, bound to `serial`: `v2.<key id>.<base64url(nonce|ct|tag)>`.
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
      // DataCipher's, libsodium's and OpenSSL's messages carry no key material; kept as the cause for diagnosis.
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

  /** A CardSecretReader, for opening many cards' envelopes out of a byte buffer (an export). */
  reader(): CardSecretReader {
    return new CardSecretReader(this.#cipher.reader(CONTEXT_PREFIX));
  }

  /** Whether the envelope was sealed under an older key or format: a re-encryption job opens and seals it again. */
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

/**
 * `CardSecrets.open` for envelopes and serials read straight out of a byte buffer (an export's COPY text): no
 * string per card, and the code and PIN come back as bytes in a scratch buffer (EnvelopeReader), checked as `open`
 * checks them. Not for concurrent use.
 */
export class CardSecretReader {
  readonly #envelopes: EnvelopeReader;

  constructor(envelopes: EnvelopeReader) {
    this.#envelopes = envelopes;
  }

  /**
   * The card's `code|pin` (OPENED_CODE_AT, OPENED_PIN_AT) from the envelope `source[envelopeStart, envelopeEnd)`
   * sealed for the serial `source[serialStart, serialEnd)`. The Buffer returned is overwritten by the next call.
   * Throws CardSecretError as `open` does.
   */
  open(source: Buffer, envelopeStart: number, envelopeEnd: number, serialStart: number, serialEnd: number): Buffer {
    let opened: Buffer;
    try {
      opened = this.#envelopes.open(source, envelopeStart, envelopeEnd, serialStart, serialEnd);
    } catch (cause) {
      throw new CardSecretError('card secret envelope does not open for this card', { cause });
    }
    let pinValid = opened.length === OPENED_BYTES;
    for (let at = OPENED_PIN_AT; at < OPENED_BYTES && pinValid; at++) {
      pinValid = opened[at] >= DIGIT_0 && opened[at] <= DIGIT_9;
    }
    if (!pinValid || opened[CODE_LENGTH] !== PIPE || !isValidCodeAt(opened, OPENED_CODE_AT)) {
      throw new CardSecretError('card secret envelope holds no code and PIN');
    }
    return opened;
  }
}
