import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** IVs are cut from one random block: a kernel call per 4,096 seals instead of per seal. */
const IV_POOL = IV_BYTES * 4096;

/**
 * AES-256-GCM envelopes `v1.<key id>.<base64url(iv | tag | ciphertext)>` for data
 * at rest (purchaser identities, card codes). New data uses the first key of
 * DATA_ENCRYPTION_KEYS; every listed key still decrypts, so keys rotate by
 * prepending a new one. `context` is bound as associated data: an envelope moved
 * to another row or column does not decrypt.
 */
@Injectable()
export class DataCipher {
  // True private fields: util.inspect or a log line that dumps the provider never shows key bytes.
  readonly #keys: Map<string, Buffer>;
  readonly #activeKeyId: string;
  readonly #ivPool = Buffer.allocUnsafe(IV_POOL);
  #ivOffset = IV_POOL;

  constructor(config: AppConfig) {
    const pairs = config.DATA_ENCRYPTION_KEYS.split(',').map((pair) => {
      const [id, key] = pair.split(':');
      const bytes = Buffer.from(key, 'base64');
      if (bytes.length !== 32) throw new Error(`DATA_ENCRYPTION_KEYS: key '${id}' is not 32 bytes`);
      return [id, bytes] as const;
    });
    this.#keys = new Map(pairs);
    this.#activeKeyId = pairs[0][0];
  }

  encrypt(plaintext: string, context: string): string {
    const iv = this.nextIv();
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#activeKeyId)!, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1.${this.#activeKeyId}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  decrypt(envelope: string, context: string): string {
    const [version, keyId, payload] = envelope.split('.');
    const key = this.#keys.get(keyId);
    if (version !== 'v1' || !key || !payload) throw new Error('unknown encryption envelope or key id');
    const bytes = Buffer.from(payload, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
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
