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
