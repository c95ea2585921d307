import { generateKey } from 'openpgp';
import { ApiError } from '../common/errors/api-error';
import { storedRecipientKey } from './export-recipient';
import { readRecipientKey } from '../export-keys/recipient-key';

const person = [{ name: 'ERP Export', email: 'erp@example.com' }];

async function refusal(armored: string) {
  const error = await readRecipientKey(armored).then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('readRecipientKey', () => {
  it('accepts a Curve25519 key and records its public facts, including the key itself', async () => {
    const { publicKey } = await generateKey({ userIDs: person, format: 'armored' });
    const { key, encryption } = await readRecipientKey(publicKey);
    expect(encryption).toEqual({
      format: 'openpgp',
      recipient_fingerprint: key.getFingerprint(),
      encryption_key_id: expect.stringMatching(/^[0-9a-f]{16}$/),
      algorithm: expect.stringMatching(/^ecdh /),
      user_ids: ['ERP Export <erp@example.com>'],
      public_key: expect.stringContaining('-----BEGIN PGP PUBLIC KEY BLOCK-----'),
    });
    // The encryption subkey, not the signing primary key.
    expect(encryption.encryption_key_id).not.toBe(key.getKeyID().toHex());
    await expect(storedRecipientKey({ ...encryption })).resolves.toMatchObject({});
  });

  it('accepts an RSA-3072 key', async () => {
    const { publicKey } = await generateKey({ type: 'rsa', rsaBits: 3072, userIDs: person, format: 'armored' });
    const { encryption } = await readRecipientKey(publicKey);
    expect(encryption.algorithm).toBe('rsaEncryptSign 3072');
  }, 30_000);

  it('refuses what is not a public key it can encrypt to', async () => {
    expect(await refusal('hello')).toMatchObject({ code: 'invalid_recipient_key', status: 422 });

    const { privateKey } = await generateKey({ userIDs: person, format: 'armored' });
    const given = await refusal(privateKey);
    expect(given).toMatchObject({ code: 'private_key_given' });
    expect(given.detail).not.toContain(privateKey.slice(40, 80));

    const expired = await generateKey({
      userIDs: person,
      date: new Date(Date.now() - 86_400_000),
      keyExpirationTime: 60,
      format: 'armored',
    });
    const refusedExpired = await refusal(expired.publicKey);
    expect(refusedExpired).toMatchObject({ code: 'invalid_recipient_key' });
    expect(refusedExpired.detail).toMatch(/no usable encryption key/);

    const weak = await generateKey({
      type: 'rsa',
      rsaBits: 1024,
      userIDs: person,
      format: 'armored',
      config: { minRSABits: 1024 },
    });
    expect(await refusal(weak.publicKey)).toMatchObject({ code: 'invalid_recipient_key' });
  }, 30_000);

  it('fails a stored recipient that is missing or no longer usable as an ExportBuildError', async () => {
    await expect(storedRecipientKey({ format: 'age' })).rejects.toMatchObject({ code: 'invalid_recipient_key' });
    const expired = await generateKey({
      userIDs: person,
      date: new Date(Date.now() - 86_400_000),
      keyExpirationTime: 60,
      format: 'armored',
    });
    await expect(storedRecipientKey({ format: 'openpgp', public_key: expired.publicKey })).rejects.toMatchObject({
      name: 'ExportBuildError',
      code: 'invalid_recipient_key',
    });
  });
});
