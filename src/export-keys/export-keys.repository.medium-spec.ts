import { newId } from '../common/ids';
import { RequestContext } from '../common/context/request-context';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import type { ExportKey } from './export-key.entity';
import { ExportKeysRepository } from './export-keys.repository';

describe('ExportKeysRepository (medium)', () => {
  let db: MediumDatabase;
  let repository: ExportKeysRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new ExportKeysRepository(db.connection);
  });
  afterAll(() => db.close());

  const key = (enterpriseId: string, fields: Partial<ExportKey> = {}): ExportKey => ({
    id: newId('exportKey'),
    enterpriseId,
    label: 'medium',
    fingerprint: newId('exportKey').slice(4).toLowerCase().padEnd(40, '0'),
    encryptionKeyId: 'b'.repeat(16),
    algorithm: 'ecdh',
    userIds: ['ERP <erp@example.com>'],
    publicKey: '-----BEGIN PGP PUBLIC KEY BLOCK-----',
    status: 'pending_confirmation',
    registeredByClientId: 'cli_medium',
    confirmedByClientId: null,
    confirmedAt: null,
    revokedByClientId: null,
    revokedAt: null,
    createdAt: new Date(),
    ...fields,
  });

  it('stores keys, finds them per enterprise, and counts the ones not revoked', async () => {
    await db.rolledBack(async (ctx) => {
      const enterpriseId = newId('enterprise');
      await repository.lockRegistrations(ctx, enterpriseId);
      const pending = key(enterpriseId);
      const revoked = key(enterpriseId, { status: 'revoked', revokedAt: new Date(), revokedByClientId: 'cli_x' });
      await repository.insert(ctx, pending);
      await repository.insert(ctx, revoked);
      await repository.insert(ctx, key(newId('enterprise')));
      expect((await repository.registered(ctx, enterpriseId)).map((row) => row.id)).toEqual([pending.id]);
      expect(await repository.find(ctx, { id: pending.id, enterpriseId: newId('enterprise') })).toBeNull();
      expect(await repository.find(ctx, { id: pending.id, enterpriseId }, 'read')).toMatchObject({
        userIds: ['ERP <erp@example.com>'],
      });
      const confirmedAt = new Date();
      await repository.update(ctx, pending.id, { status: 'confirmed', confirmedByClientId: 'cli_b', confirmedAt });
      expect(await repository.find(ctx, { id: pending.id }, 'write')).toMatchObject({
        status: 'confirmed',
        confirmedAt,
      });
      const page = await repository.list(ctx, { enterpriseId, status: 'confirmed' }, { limit: 10 });
      expect(page.data.map((row) => row.id)).toEqual([pending.id]);
    });
    await expect(repository.find(RequestContext.system(), { id: 'xpk_x' }, 'read')).rejects.toThrow(
      /inside a transaction/,
    );
  });
});
