import { newId } from '../common/ids';
import { RequestContext } from '../common/context/request-context';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { ApiClientsRepository } from './api-clients.repository';

describe('ApiClientsRepository (medium)', () => {
  let db: MediumDatabase;
  let repository: ApiClientsRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new ApiClientsRepository(db.connection);
  });
  afterAll(() => db.close());

  const client = (enterpriseId: string | null = null) => ({
    id: newId('apiClient'),
    name: 'medium',
    enterpriseId,
    scopes: ['admin' as const],
    ipAllowlist: ['198.51.100.0/24'],
    status: 'active' as const,
    revokedAt: null,
  });
  const secret = (clientId: string, expiresAt: Date | null = null) => ({
    id: newId('apiClientSecret'),
    clientId,
    hash: 'hmac$x',
    hint: 'abcdefgh',
    expiresAt,
  });

  it('stores a client and reads it back, locked inside a transaction', async () => {
    await db.rolledBack(async (ctx) => {
      const stored = await repository.insert(ctx, client());
      expect(stored.createdAt).toBeInstanceOf(Date);
      expect(await repository.find(ctx, stored.id, { lock: true })).toMatchObject({
        id: stored.id,
        ipAllowlist: ['198.51.100.0/24'],
        scopes: ['admin'],
      });
      await repository.update(ctx, stored.id, { status: 'revoked', revokedAt: new Date() });
      expect((await repository.find(ctx, stored.id))?.status).toBe('revoked');
    });
    await expect(repository.find(RequestContext.system(), 'cli_x', { lock: true })).rejects.toThrow(
      /inside a transaction/,
    );
  });

  it('answers the active secrets per client, newest first, and expires them', async () => {
    await db.rolledBack(async (ctx) => {
      const a = await repository.insert(ctx, client());
      const b = await repository.insert(ctx, client());
      const old = await repository.insertSecret(ctx, secret(a.id));
      const lapsed = await repository.insertSecret(ctx, secret(a.id, new Date(Date.now() - 1000)));
      const later = await repository.insertSecret(ctx, secret(a.id, new Date(Date.now() + 60_000)));
      const other = await repository.insertSecret(ctx, secret(b.id));
      const active = await repository.activeSecrets(ctx, [a.id, b.id]);
      expect(active.get(a.id)?.map((row) => row.id)).toEqual([later.id, old.id]);
      expect(active.get(b.id)?.map((row) => row.id)).toEqual([other.id]);
      expect(lapsed.id).not.toBe(old.id);

      await repository.expireOpenEndedSecrets(ctx, a.id, new Date(Date.now() - 1));
      expect((await repository.activeSecrets(ctx, [a.id])).get(a.id)?.map((row) => row.id)).toEqual([later.id]);
      await repository.expireActiveSecrets(ctx, a.id, new Date(Date.now() - 1));
      expect((await repository.activeSecrets(ctx, [a.id])).get(a.id)).toBeUndefined();
      await repository.setSecretHash(ctx, other.id, 'hmac$y');
      await repository.setSecretExpiry(ctx, other.id, new Date(Date.now() + 1000));
      expect((await repository.activeSecrets(ctx, [b.id])).get(b.id)?.[0]).toMatchObject({ hash: 'hmac$y' });
      expect(await repository.activeSecrets(ctx, [])).toEqual(new Map());
    });
  });

  it('lists by enterprise and status, newest first', async () => {
    await db.rolledBack(async (ctx) => {
      const enterpriseId = newId('enterprise');
      const first = await repository.insert(ctx, client(enterpriseId));
      const second = await repository.insert(ctx, client(enterpriseId));
      await repository.insert(ctx, client());
      const page = await repository.list(ctx, { enterpriseId, status: 'active' }, { limit: 10 });
      expect(page.data.map((row) => row.id)).toEqual([second.id, first.id]);
    });
  });

  it('takes the bootstrap lock only inside a transaction', async () => {
    await db.rolledBack((ctx) => repository.lockBootstrap(ctx));
    await expect(repository.lockBootstrap(RequestContext.system())).rejects.toThrow(/inside a transaction/);
  });
});
