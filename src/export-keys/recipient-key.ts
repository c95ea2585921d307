/**
 * The client's OpenPGP public key, which an export file is encrypted to.
 *
 * Why OpenPGP with the client's public key (and not a passphrase): the server never holds anything that
 * decrypts the file (no passphrase travels, is logged, or sits in a job payload), so the file at rest, a copied
 * backup of DATA_DIR or a leaked download link reveal nothing; OpenPGP is the long-standing format of B2B file
 * exchange that finance and HR systems already use, and the client decrypts with standard GnuPG
 * (`gpg --decrypt`, Gpg4win, GPG Suite) or any RFC 4880/9580 implementation. The `openpgp` package (OpenPGP.js,
 * maintained by Proton, no runtime dependencies) encrypts as a stream on Node 20 in CommonJS.
 */
import { readKey, type Key, type PublicKey } from 'openpgp';
import { ApiError } from '../common/errors/api-error';

/** What an export row records about its recipient (jsonb `encryption`): public data only. */
export interface ExportEncryption {
  format: 'openpgp';
  /** Primary key fingerprint, lower-case hex. */
  recipient_fingerprint: string;
  /** Key id of the (sub)key the session key is encrypted to. */
  encryption_key_id: string;
  /** e.g. `rsaEncryptSign 3072`, `ecdh curve25519Legacy`. */
  algorithm: string;
  user_ids: string[];
  /** The public key itself (re-armored), read by the worker that builds the file. */
  public_key: string;
}

const PRIVATE_KEY_BLOCK = '-----BEGIN PGP PRIVATE KEY BLOCK-----';

function invalid(detail: string): ApiError {
  return ApiError.unprocessable('invalid_recipient_key', detail);
}

/**
 * Reads and checks an ASCII-armored OpenPGP public key: one key, public only, with a valid (not expired, not
 * revoked, self-signed) encryption key of acceptable strength (OpenPGP.js refuses RSA below 2048 bits and
 * broken algorithms). 422 `invalid_recipient_key` otherwise; a private key is refused without being kept.
 */
export async function readRecipientKey(
  armored: string,
  field = 'public_key',
  now = new Date(),
): Promise<{ key: PublicKey; encryption: ExportEncryption }> {
  if (armored.includes(PRIVATE_KEY_BLOCK)) {
    throw ApiError.unprocessable(
      'private_key_given',
      `${field} holds a PRIVATE key: it was not stored, but treat it as exposed and replace it; send the public key (gpg --armor --export)`,
    );
  }
  let key: Key;
  try {
    key = await readKey({ armoredKey: armored });
  } catch {
    throw invalid(`${field} is not an ASCII-armored OpenPGP public key`);
  }
  if (key.isPrivate()) throw invalid(`${field} must be a public key`);
  let encryptionKey: Awaited<ReturnType<Key['getEncryptionKey']>>;
  try {
    encryptionKey = await key.getEncryptionKey(undefined, now);
  } catch (error) {
    // OpenPGP.js says why (expired, revoked, too weak, no encryption subkey); its messages hold no secrets.
    throw invalid(`${field} has no usable encryption key: ${(error as Error).message}`);
  }
  const info = encryptionKey.getAlgorithmInfo();
  const size = 'bits' in info && info.bits ? ` ${info.bits}` : 'curve' in info && info.curve ? ` ${info.curve}` : '';
  return {
    key,
    encryption: {
      format: 'openpgp',
      recipient_fingerprint: key.getFingerprint(),
      encryption_key_id: encryptionKey.getKeyID().toHex(),
      algorithm: `${info.algorithm}${size}`,
      user_ids: key.getUserIDs(),
      public_key: key.armor(),
    },
  };
}
