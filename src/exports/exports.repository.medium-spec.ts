import { newId } from '../common/ids';
import type { CardExport } from '../issuance/card-export.entity';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { ExportsRepository } from './exports.repository';

describe('ExportsRepository (medium)', () => {
  let db: MediumDatabase;
  let repository: ExportsRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new ExportsRepository(db.connection);
  });
  afterAll(() => db.close());

  const record = (fields: Partial<CardExport> = {}): CardExport => ({
    id: newId('export'),
    orderId: newId('order'),
    enterpriseId: newId('enterprise'),
    requestedByClientId: 'cli_medium',
    status: 'pending',
    exportKeyId: null,
    encryption: { recipient_fingerprint: 'f'.repeat(40) },
    rowCount: null,
    plaintextSha256: null,
    sizeBytes: null,
    storagePath: null,
    downloadTokenHash: null,
    downloadExpiresAt: null,
    downloadedAt: null,
    purgeAfterExport: false,
    purgeConfirmedByClientId: null,
    purgeConfirmedAt: null,
    failureReason: null,
    createdAt: new Date(),
    completedAt: null,
    ...fields,
  });

  it('stores an export and moves it only from the statuses named', async () => {
    await db.rolledBack(async (ctx) => {
      const row = record();
      await repository.insert(ctx, row);
      expect(await repository.find(ctx, { id: row.id, enterpriseId: row.enterpriseId }, { lock: true })).toMatchObject({
        encryption: row.encryption,
        status: 'pending',
      });
      expect(await repository.find(ctx, { id: row.id, enterpriseId: newId('enterprise') })).toBeNull();
      expect(await repository.exportInProgress(ctx, row.orderId)).toBe(row.id);
      expect(await repository.update(ctx, row.id, { status: 'running' }, ['ready'])).toBe(false);
      expect(await repository.update(ctx, row.id, { status: 'running' }, ['pending'])).toBe(true);
      expect(await repository.update(ctx, row.id, { status: 'ready', completedAt: new Date() })).toBe(true);
      expect(await repository.exportInProgress(ctx, row.orderId)).toBeNull();
      expect(await repository.purgingExportExists(ctx, row.orderId)).toBe(false);
      await repository.insert(ctx, record({ orderId: row.orderId, status: 'ready', purgeAfterExport: true }));
      expect(await repository.purgingExportExists(ctx, row.orderId)).toBe(true);
    });
  });

  it('issues links only for a ready, undownloaded file, and ends only the download claimed', async () => {
    await db.rolledBack(async (ctx) => {
      const row = record({ status: 'ready', storagePath: 'exports/x.pgp', completedAt: new Date() });
      await repository.insert(ctx, row);
      expect(await repository.issueLink(ctx, row.id, 'a'.repeat(64), new Date(Date.now() + 60_000))).toBe(true);
      const claimedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
      await repository.update(ctx, row.id, { downloadedAt: claimedAt });
      expect(await repository.issueLink(ctx, row.id, 'b'.repeat(64), new Date())).toBe(false);
      expect(await repository.finishDownload(ctx, row.id, new Date(claimedAt.getTime() - 1000), true)).toBe(false);
      expect(await repository.finishDownload(ctx, row.id, claimedAt, false)).toBe(true);
      expect((await repository.find(ctx, { id: row.id }))?.downloadedAt).toBeNull();
    });
  });

  it('finds files past their retention and clears each once', async () => {
    await db.rolledBack(async (ctx) => {
      const old = new Date(Date.now() - 10 * 86_400_000);
      const stale = record({ status: 'ready', storagePath: 'exports/old.pgp', completedAt: old });
      const fresh = record({ status: 'ready', storagePath: 'exports/new.pgp', completedAt: new Date() });
      await repository.insert(ctx, stale);
      await repository.insert(ctx, fresh);
      const found = await repository.staleFiles(ctx, new Date(Date.now() - 86_400_000), new Date(0), 100);
      expect(found).toContainEqual({ id: stale.id, storagePath: 'exports/old.pgp' });
      expect(found.map((file) => file.id)).not.toContain(fresh.id);
      expect(await repository.clearFile(ctx, stale.id, 'exports/old.pgp')).toEqual({
        enterpriseId: stale.enterpriseId,
        orderId: stale.orderId,
        downloaded: false,
      });
      expect(await repository.clearFile(ctx, stale.id, 'exports/old.pgp')).toBeNull();
    });
  });

  it('holds the build lock for one holder at a time', async () => {
    const exportId = newId('export');
    const outcome = await repository.withBuildLock(exportId, async () => {
      const inner = await repository.withBuildLock(exportId, async () => 'twice');
      return inner.locked;
    });
    expect(outcome).toEqual({ locked: true, result: false });
    expect(await repository.withBuildLock(exportId, async () => 'again')).toEqual({ locked: true, result: 'again' });
  });
});
