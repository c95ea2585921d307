import { readKey, type PublicKey } from 'openpgp';
import { ExportBuildError } from './export-csv';

/** The stored recipient (checked when the export was requested) read back by the worker. */
export async function storedRecipientKey(encryption: Record<string, unknown>): Promise<PublicKey> {
  const armored = encryption.public_key;
  if (encryption.format !== 'openpgp' || typeof armored !== 'string') {
    throw new ExportBuildError('invalid_recipient_key', 'the export names no OpenPGP recipient key');
  }
  try {
    const key = await readKey({ armoredKey: armored });
    // Checked at request time; it may have expired since.
    await key.getEncryptionKey();
    return key;
  } catch (cause) {
    throw new ExportBuildError('invalid_recipient_key', `recipient key unusable: ${(cause as Error).message}`, {
      cause,
    });
  }
}
