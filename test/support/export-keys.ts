import type { TestApp } from './app';

/**
 * Registers `publicKey` as an export key with the token of a client holding cards:secrets, and has it confirmed
 * with the token of another client of the same enterprise holding orders:approve (or the operator's): what an
 * enterprise does once before its first export. Returns the key's id, for `export_key_id`.
 */
export async function confirmedExportKey(
  app: TestApp,
  tokens: { registrar: string; approver: string },
  publicKey: string,
): Promise<string> {
  const registered = await app.http
    .post('/v1/export-keys')
    .auth(tokens.registrar, { type: 'bearer' })
    .send({ public_key: publicKey, label: 'test exports' });
  if (registered.status !== 201) {
    throw new Error(`register export key: ${registered.status} ${JSON.stringify(registered.body)}`);
  }
  const { id, fingerprint } = registered.body as { id: string; fingerprint: string };
  const confirmed = await app.http
    .post(`/v1/export-keys/${id}/confirm`)
    .auth(tokens.approver, { type: 'bearer' })
    .send({ fingerprint });
  if (confirmed.status !== 200) {
    throw new Error(`confirm export key: ${confirmed.status} ${JSON.stringify(confirmed.body)}`);
  }
  return id;
}
