import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync, type KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';

const VERSION_PREFIX = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** IVs are cut from one random block: a kernel call per 4,096 seals instead of per seal. */
const IV_POOL = IV_BYTES * 4096;
const VERSION = 'v1';

/**
 * An envelope that does not open: unknown version or key id, altered, sealed under another key of the same id,
 * or bound to another context. Messages name the failing check only, never key material or plaintext.
 */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

/**
 * AES-256-GCM envelopes `v1.<key id>.<base64url(iv | tag | ciphertext)>` for data
 * at rest (purchaser identities, card codes). New data uses the first key of
 * DATA_ENCRYPTION_KEYS; every listed key still decrypts, so keys rotate by
 * prepending a new one. `context` is bound as associated data: an envelope moved
 * to another row or column does not decrypt.
 */
@Injectable()
export class DataCipher {
  // True private fields: util.inspect or a log line that dumps the provider never shows key bytes. KeyObjects,
  // made once: a Buffer key is turned into a new native key on every cipher, ≈ 15 % of the CPU of opening an
  // envelope (an export opens a million of them; issuance seals as many).
  readonly #keys: Map<string, KeyObject>;
  readonly #activeKeyId: string;
  readonly #ivPool = Buffer.allocUnsafe(IV_POOL);
  #ivOffset = IV_POOL;

  constructor(config: AppConfig) {
    const pairs = config.DATA_ENCRYPTION_KEYS.split(',').map((pair) => {
      const [id, key] = pair.split(':');
      const bytes = Buffer.from(key, 'base64');
      if (bytes.length !== 32) throw new Error(`DATA_ENCRYPTION_KEYS: key '${id}' is not 32 bytes`);
      return [id, createSecretKey(bytes)] as const;
    });
    this.#keys = new Map(pairs);
    // A repeated id would silently shadow one of the keys (and maybe the active one): refuse it at boot.
    if (this.#keys.size !== pairs.length) {
      const repeated = pairs.map(([id]) => id).find((id, index, ids) => ids.indexOf(id) !== index);
      throw new Error(`DATA_ENCRYPTION_KEYS: key id '${repeated}' is listed twice`);
    }
    this.#activeKeyId = pairs[0][0];
  }

  /** The id of the key new envelopes are sealed with (the first of DATA_ENCRYPTION_KEYS). */
  get activeKeyId(): string {
    return this.#activeKeyId;
  }

  /** Every configured key id, active first (ids only: never key bytes). */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  hasKey(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  /** The key id an envelope names, or null when the text is not an envelope of this format. */
  static keyIdOf(envelope: string): string | null {
    const [version, keyId, payload] = envelope.split('.');
    return version === VERSION && keyId && payload ? keyId : null;
  }

  encrypt(plaintext: string, context: string): string {
    const iv = this.nextIv();
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#activeKeyId)!, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${VERSION}.${this.#activeKeyId}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** Throws EnvelopeError when the envelope does not open (see there). */
  decrypt(envelope: string, context: string): string {
    // `v1.<key id>.<payload>`, cut with indexOf: no array per call on the export's hot path.
    const keyIdEnd = envelope.indexOf('.', VERSION_PREFIX.length);
    const key = envelope.startsWith(VERSION_PREFIX)
      ? this.#keys.get(envelope.slice(VERSION_PREFIX.length, keyIdEnd))
      : undefined;
    if (!key || keyIdEnd < 0 || keyIdEnd === envelope.length - 1) {
      throw new EnvelopeError('unknown encryption envelope or key id');
    }
    const bytes = Buffer.from(envelope.slice(keyIdEnd + 1), 'base64url');
    try {
      // authTagLength: a truncated tag is refused, not checked on fewer bytes.
      const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const head = decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES));
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

  /**
   * The same plaintext sealed again under the active key, for the same context (key rotation). The plaintext
   * never leaves this method. Throws EnvelopeError when the envelope does not open.
   */
  reseal(envelope: string, context: string): string {
    return this.encrypt(this.decrypt(envelope, context), context);
  }

  /** Whether the envelope was made with an older key (a re-encryption job moves it to the active one). */
  isStale(envelope: string): boolean {
    return envelope.split('.')[1] !== this.#activeKeyId;
  }

  /** A fresh 96-bit IV (a copy: the pool is overwritten on refill). */
  private nextIv(): Buffer {
    if (this.#ivOffset === IV_POOL) {
      randomFillSync(this.#ivPool);
      this.#ivOffset = 0;
    }
    const iv = Buffer.from(this.#ivPool.subarray(this.#ivOffset, this.#ivOffset + IV_BYTES));
    this.#ivOffset += IV_BYTES;
    return iv;
  }
}
