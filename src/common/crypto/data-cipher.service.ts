import { createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import sodium from 'sodium-native';
import { AppConfig } from '../../config/app-config';

/** The format new envelopes are sealed in (docs/decisions/0005-envelope-format-v2-sodium.md). */
const CURRENT = 'v2';
const CURRENT_PREFIX = 'v2.';
/** AES-256-GCM envelopes from before v2: they still open; the re-encryption job moves them to v2. */
const LEGACY_PREFIX = 'v1.';
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
const TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES;
/** Nonces are cut from one random block: a call into libsodium's CSPRNG per 4,096 seals instead of per seal. */
const NONCE_POOL = NONCE_BYTES * 4096;
const DOT = 0x2e;
/**
 * Character code → its 6 bits in base64url, or -1. Buffer's base64url decoder also takes the `+` and `/` of plain
 * base64, so this does too; anything else (padding, whitespace) goes to EnvelopeReader's string path, which keeps
 * Buffer's exact reading of such input.
 */
const BASE64_VALUE = new Int8Array(256).fill(-1);
for (const [index, char] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) {
  BASE64_VALUE[char.charCodeAt(0)] = index;
}
BASE64_VALUE['+'.charCodeAt(0)] = 62;
BASE64_VALUE['/'.charCodeAt(0)] = 63;

/**
 * Decodes unpadded base64url `source[start, end)` into `into` (room for ⌈3/4 of the length⌉ bytes) and returns the
 * number of bytes written, or -1 when the text holds anything else or cannot be whole bytes (a length of 4k + 1).
 * Trailing bits beyond the last byte are ignored, as Buffer does.
 */
function decodeBase64Url(source: Uint8Array, start: number, end: number, into: Uint8Array): number {
  if ((end - start) % 4 === 1) return -1;
  const whole = start + ((end - start) & ~3);
  let out = 0;
  let at = start;
  for (; at < whole; at += 4) {
    const a = BASE64_VALUE[source[at]];
    const b = BASE64_VALUE[source[at + 1]];
    const c = BASE64_VALUE[source[at + 2]];
    const d = BASE64_VALUE[source[at + 3]];
    if ((a | b | c | d) < 0) return -1;
    const bits = (a << 18) | (b << 12) | (c << 6) | d;
    into[out++] = bits >> 16;
    into[out++] = (bits >> 8) & 0xff;
    into[out++] = bits & 0xff;
  }
  if (at < end) {
    const a = BASE64_VALUE[source[at]];
    const b = BASE64_VALUE[source[at + 1]];
    const c = end - at === 3 ? BASE64_VALUE[source[at + 2]] : 0;
    if ((a | b | c) < 0) return -1;
    into[out++] = (a << 2) | (b >> 4);
    if (end - at === 3) into[out++] = ((b & 0x0f) << 4) | (c >> 2);
  }
  return out;
}

/**
 * An envelope that does not open: unknown version or key id, altered, sealed under another key of the same id,
 * or bound to another context. Messages name the failing check only, never key material or plaintext.
 */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

interface DataKey {
  /** For v2 (libsodium takes the raw bytes). */
  bytes: Buffer;
  /** For v1 (AES-GCM): a KeyObject made once, not a new native key per call. */
  aes: KeyObject;
}

/**
 * Envelopes for data at rest (purchaser identities, card codes, stored responses, webhook secrets, real names):
 * `v2.<key id>.<base64url(nonce | ciphertext | tag)>`, XChaCha20-Poly1305 (libsodium through sodium-native,
 * 24-byte random nonce, 16-byte tag). The associated data is the header `v2.<key id>.` followed by `context`: an
 * envelope moved to another row or column, or relabelled with another version or key id, does not open.
 *
 * New data uses the first key of DATA_ENCRYPTION_KEYS; every listed key still opens, so keys rotate by
 * prepending a new one. Envelopes of the earlier format `v1.<key id>.<base64url(iv | tag | ciphertext)>`
 * (AES-256-GCM, `context` alone as associated data) still open and count as stale, so a re-encryption run moves
 * them to v2 even when they are under the active key.
 */
@Injectable()
export class DataCipher {
  // True private fields: util.inspect or a log line that dumps the provider never shows key bytes.
  readonly #keys: Map<string, DataKey>;
  readonly #activeKeyId: string;
  readonly #activeKey: Buffer;
  readonly #activeHeader: string;
  readonly #nonces = Buffer.allocUnsafe(NONCE_POOL);
  #nonceOffset = NONCE_POOL;

  constructor(config: AppConfig) {
    const pairs = config.DATA_ENCRYPTION_KEYS.split(',').map((pair) => {
      const [id, key] = pair.split(':');
      const bytes = Buffer.from(key, 'base64');
      if (bytes.length !== 32) throw new Error(`DATA_ENCRYPTION_KEYS: key '${id}' is not 32 bytes`);
      return [id, { bytes, aes: createSecretKey(bytes) }] as const;
    });
    this.#keys = new Map(pairs);
    // A repeated id would silently shadow one of the keys (and maybe the active one): refuse it at boot.
    if (this.#keys.size !== pairs.length) {
      const repeated = pairs.map(([id]) => id).find((id, index, ids) => ids.indexOf(id) !== index);
      throw new Error(`DATA_ENCRYPTION_KEYS: key id '${repeated}' is listed twice`);
    }
    this.#activeKeyId = pairs[0][0];
    this.#activeKey = pairs[0][1].bytes;
    this.#activeHeader = `${CURRENT}.${this.#activeKeyId}.`;
  }

  /** The id of the key new envelopes are sealed with (the first of DATA_ENCRYPTION_KEYS). */
  get activeKeyId(): string {
    return this.#activeKeyId;
  }

  /** Every configured key id, active first (ids only: never key bytes). */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** The prefix of an envelope in the current format under the active key: the others are stale. */
  static currentPrefix(keyId: string): string {
    return `${CURRENT}.${keyId}.`;
  }

  hasKey(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  /** The key id an envelope names, or null when the text is not an envelope of a known format. */
  static keyIdOf(envelope: string): string | null {
    const [version, keyId, payload] = envelope.split('.');
    return (version === CURRENT || version === 'v1') && keyId && payload ? keyId : null;
  }

  encrypt(plaintext: string, context: string): string {
    const message = Buffer.from(plaintext, 'utf8');
    const sealed = Buffer.allocUnsafe(NONCE_BYTES + message.length + TAG_BYTES);
    const nonce = sealed.subarray(0, NONCE_BYTES);
    this.takeNonce(nonce);
    const header = this.#activeHeader;
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
      sealed.subarray(NONCE_BYTES),
      message,
      Buffer.from(header + context, 'utf8'),
      null,
      nonce,
      this.#activeKey,
    );
    return header + sealed.toString('base64url');
  }

  /** Throws EnvelopeError when the envelope does not open (see there). */
  decrypt(envelope: string, context: string): string {
    // `v<n>.<key id>.<payload>`, cut with indexOf: no array per call on the export's hot path.
    const current = envelope.startsWith(CURRENT_PREFIX);
    const keyIdEnd = envelope.indexOf('.', 3);
    const key = current || envelope.startsWith(LEGACY_PREFIX) ? this.#keys.get(envelope.slice(3, keyIdEnd)) : undefined;
    if (!key || keyIdEnd < 0 || keyIdEnd === envelope.length - 1) {
      throw new EnvelopeError('unknown encryption envelope or key id');
    }
    const bytes = Buffer.from(envelope.slice(keyIdEnd + 1), 'base64url');
    return current
      ? this.openCurrent(key, bytes, envelope.slice(0, keyIdEnd + 1), context)
      : this.openLegacy(key, bytes, context);
  }

  /**
   * The same plaintext sealed again under the active key in the current format, for the same context (key
   * rotation, format migration). The plaintext never leaves this method. Throws EnvelopeError when the envelope
   * does not open.
   */
  reseal(envelope: string, context: string): string {
    return this.encrypt(this.decrypt(envelope, context), context);
  }

  /** Whether the envelope was made with an older key or format (a re-encryption job moves it to the current). */
  isStale(envelope: string): boolean {
    return !envelope.startsWith(this.#activeHeader);
  }

  /**
   * An EnvelopeReader for envelopes whose context is `contextPrefix` followed by a field of the same record (a
   * card's serial): for opening many envelopes straight out of a byte buffer (an export's COPY text).
   */
  reader(contextPrefix: string): EnvelopeReader {
    return new EnvelopeReader(this, this.#keys, contextPrefix);
  }

  private openCurrent(key: DataKey, bytes: Buffer, header: string, context: string): string {
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new EnvelopeError('encryption envelope is truncated');
    const message = Buffer.allocUnsafe(bytes.length - NONCE_BYTES - TAG_BYTES);
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        message,
        null,
        bytes.subarray(NONCE_BYTES),
        Buffer.from(header + context, 'utf8'),
        bytes.subarray(0, NONCE_BYTES),
        key.bytes,
      );
    } catch (cause) {
      // libsodium says only that verification failed; kept as the cause for diagnosis.
      throw new EnvelopeError('encryption envelope does not open (altered, another context, or another key)', {
        cause,
      });
    }
    return message.toString('utf8');
  }

  private openLegacy(key: DataKey, bytes: Buffer, context: string): string {
    try {
      // authTagLength: a truncated tag is refused, not checked on fewer bytes.
      const decipher = createDecipheriv('aes-256-gcm', key.aes, bytes.subarray(0, GCM_IV_BYTES), {
        authTagLength: GCM_TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(bytes.subarray(GCM_IV_BYTES, GCM_IV_BYTES + GCM_TAG_BYTES));
      const head = decipher.update(bytes.subarray(GCM_IV_BYTES + GCM_TAG_BYTES));
      // final() authenticates (throws on a wrong tag); GCM is a stream mode, so it returns no bytes.
      const tail = decipher.final();
      return (tail.length === 0 ? head : Buffer.concat([head, tail])).toString('utf8');
    } catch (cause) {
      // OpenSSL's messages carry no key material; kept as the cause for diagnosis.
      throw new EnvelopeError('encryption envelope does not open (altered, another context, or another key)', {
        cause,
      });
    }
  }

  /** Fills `into` with a fresh 192-bit nonce (random: XChaCha's nonce is long enough for that). */
  private takeNonce(into: Buffer): void {
    if (this.#nonceOffset === NONCE_POOL) {
      sodium.randombytes_buf(this.#nonces);
      this.#nonceOffset = 0;
    }
    this.#nonces.copy(into, 0, this.#nonceOffset, this.#nonceOffset + NONCE_BYTES);
    this.#nonceOffset += NONCE_BYTES;
  }
}

/**
 * Opens envelopes read from a byte buffer, many in a row, without the strings and Buffers that `decrypt` makes for
 * each (the base64 text, the decoded payload, the associated data, the plaintext): at a million cards per export
 * those allocations, and the garbage collection after them, cost as much CPU as the decryption itself. It decodes
 * into scratch buffers it keeps, and hands libsodium views of them that it makes again only when a length changes
 * (envelopes of one export have one length, and serials mostly too). v2 envelopes of plain base64url text take
 * this path; anything else (v1 envelopes, other characters) is opened by `decrypt` itself, with its exact rules,
 * and its plaintext copied into the same scratch buffer.
 *
 * Not for concurrent use: what `open` returns is overwritten by the next call. Why it exists, and what it measured:
 * docs/decisions/0014-export-reads-envelopes-from-copy-bytes.md.
 */
export class EnvelopeReader {
  readonly #cipher: DataCipher;
  readonly #keys: Map<string, DataKey>;
  readonly #contextPrefix: string;
  readonly #prefixBytes: Buffer;
  /** The decoded payload (nonce | ciphertext | tag) of the envelope being opened. */
  #payload = Buffer.alloc(0);
  #nonce = this.#payload;
  #sealed = this.#payload;
  /** The associated data: the envelope's header `v2.<key id>.`, the context prefix, the subject. */
  #ad = Buffer.alloc(0);
  #adView = this.#ad;
  /** Length of the header at the start of #ad (0: none yet), and the key it names. */
  #headerLength = 0;
  #key: DataKey | undefined;
  #plaintext = Buffer.alloc(0);
  #plaintextView = this.#plaintext;

  constructor(cipher: DataCipher, keys: Map<string, DataKey>, contextPrefix: string) {
    this.#cipher = cipher;
    this.#keys = keys;
    this.#contextPrefix = contextPrefix;
    this.#prefixBytes = Buffer.from(contextPrefix, 'utf8');
  }

  /**
   * The plaintext of the envelope `source[start, end)` (latin1 text, as `decrypt` takes it) sealed for the context
   * `contextPrefix` + `source[subjectStart, subjectEnd)`. The Buffer returned is this reader's scratch space, valid
   * until its next call: copy what you keep. Throws EnvelopeError as `decrypt` does.
   */
  open(source: Buffer, start: number, end: number, subjectStart: number, subjectEnd: number): Buffer {
    const key = this.#headerKey(source, start, end);
    if (!key) return this.#openByText(source, start, end, subjectStart, subjectEnd);
    const payloadStart = start + this.#headerLength;
    this.#reserve(Math.ceil(((end - payloadStart) * 3) / 4), subjectEnd - subjectStart);
    const payloadLength = decodeBase64Url(source, payloadStart, end, this.#payload);
    if (payloadLength < 0) return this.#openByText(source, start, end, subjectStart, subjectEnd);
    // The subject after the header and prefix already in #ad; non-ASCII would be encoded otherwise by `decrypt`.
    let adLength = this.#headerLength + this.#prefixBytes.length;
    for (let at = subjectStart; at < subjectEnd; at++) {
      const byte = source[at];
      if (byte >= 0x80) return this.#openByText(source, start, end, subjectStart, subjectEnd);
      this.#ad[adLength++] = byte;
    }
    if (payloadLength === 0) throw new EnvelopeError('unknown encryption envelope or key id');
    if (payloadLength < NONCE_BYTES + TAG_BYTES) throw new EnvelopeError('encryption envelope is truncated');
    if (this.#sealed.length !== payloadLength - NONCE_BYTES) {
      this.#sealed = this.#payload.subarray(NONCE_BYTES, payloadLength);
    }
    if (this.#adView.length !== adLength) this.#adView = this.#ad.subarray(0, adLength);
    const plaintextLength = payloadLength - NONCE_BYTES - TAG_BYTES;
    if (this.#plaintextView.length !== plaintextLength) {
      this.#plaintextView = this.#plaintext.subarray(0, plaintextLength);
    }
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        this.#plaintextView,
        null,
        this.#sealed,
        this.#adView,
        this.#nonce,
        key.bytes,
      );
    } catch (cause) {
      throw new EnvelopeError('encryption envelope does not open (altered, another context, or another key)', {
        cause,
      });
    }
    return this.#plaintextView;
  }

  /**
   * The key of a v2 envelope whose header `v2.<key id>.` is plain ASCII and names a configured key, with the
   * header and the context prefix in place at the start of #ad; undefined otherwise (the text path decides). The
   * header of the last envelope is kept, so an export under one key looks its key up once.
   */
  #headerKey(source: Buffer, start: number, end: number): DataKey | undefined {
    const kept = this.#headerLength;
    if (kept > 0 && start + kept < end) {
      let same = true;
      for (let i = 0; i < kept && same; i++) same = source[start + i] === this.#ad[i];
      if (same) return this.#key;
    }
    if (source[start] !== 0x76 || source[start + 1] !== 0x32 || source[start + 2] !== DOT) return undefined;
    let dot = start + 3;
    while (dot < end && source[dot] !== DOT) {
      if (source[dot] >= 0x80) return undefined;
      dot++;
    }
    const key = dot < end ? this.#keys.get(source.toString('latin1', start + 3, dot)) : undefined;
    if (!key) return undefined;
    const headerLength = dot + 1 - start;
    this.#reserve(0, 0, headerLength);
    source.copy(this.#ad, 0, start, dot + 1);
    this.#prefixBytes.copy(this.#ad, headerLength);
    this.#headerLength = headerLength;
    this.#key = key;
    return key;
  }

  /** `decrypt` on the envelope as text, its plaintext copied into the scratch space. */
  #openByText(source: Buffer, start: number, end: number, subjectStart: number, subjectEnd: number): Buffer {
    const plaintext = Buffer.from(
      this.#cipher.decrypt(
        source.toString('latin1', start, end),
        this.#contextPrefix + source.toString('latin1', subjectStart, subjectEnd),
      ),
      'utf8',
    );
    this.#reserve(plaintext.length, 0);
    plaintext.copy(this.#plaintext);
    if (this.#plaintextView.length !== plaintext.length) {
      this.#plaintextView = this.#plaintext.subarray(0, plaintext.length);
    }
    return this.#plaintextView;
  }

  /**
   * Room for a payload (and plaintext) of `payloadBytes` and associated data with a subject of `subjectBytes`
   * after a header of `headerBytes`; views of a buffer that is replaced are made again.
   */
  #reserve(payloadBytes: number, subjectBytes: number, headerBytes = this.#headerLength): void {
    if (payloadBytes > this.#payload.length || this.#payload.length < NONCE_BYTES) {
      const size = Math.max(payloadBytes, 2 * this.#payload.length, 256);
      this.#payload = Buffer.alloc(size);
      this.#nonce = this.#payload.subarray(0, NONCE_BYTES);
      this.#sealed = this.#payload.subarray(0, 0);
      this.#plaintext = Buffer.alloc(size);
      this.#plaintextView = this.#plaintext.subarray(0, 0);
    }
    const adBytes = headerBytes + this.#prefixBytes.length + subjectBytes;
    if (adBytes > this.#ad.length) {
      const ad = Buffer.alloc(Math.max(adBytes, 2 * this.#ad.length, 128));
      this.#ad.copy(ad, 0, 0, this.#headerLength + this.#prefixBytes.length);
      this.#ad = ad;
      this.#adView = ad.subarray(0, 0);
    }
  }
}
