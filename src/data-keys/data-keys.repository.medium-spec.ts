import { newId } from '../common/ids';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { DataKeysRepository } from './data-keys.repository';
import { pendingProgress } from './reencryption-progress';
import type { ReencryptionRun } from './reencryption-run.entity';

describe('DataKeysRepository (medium)', () => {
  let db: MediumDatabase;
  let repository: DataKeysRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new DataKeysRepository(db.connection);
  });
  afterAll(() => db.close());

  const run = (): Omit<ReencryptionRun, 'createdAt' | 'updatedAt'> => ({
    id: newId('reencryption'),
    status: 'queued',
    targetKeyId: 'k2',
    targetCodeKeyId: 'p2',
    batchSize: 100,
    progress: { 'orders.purchaser_ciphertext': pendingProgress() },
    requestedByClientId: 'cli_medium',
    failureReason: null,
    startedAt: null,
    completedAt: null,
  });

  it('stores a run, moves it through its states and its progress only while running', async () => {
    await db.rolledBack(async (ctx) => {
      await repository.lockStart(ctx);
      const stored = await repository.insert(ctx, run());
      expect(stored.updatedAt).toBeInstanceOf(Date);
      expect(await repository.unfinished(ctx)).toEqual({ id: stored.id, status: 'queued' });
      expect(await repository.unfinishedIds(ctx)).toContain(stored.id);
      const progress = { ...pendingProgress(), state: 'running' as const, scanned: 7 };
      expect(await repository.saveColumn(ctx, stored.id, 'orders.purchaser_ciphertext', progress)).toBe(false);
      expect(
        await repository.transition(ctx, stored.id, ['queued'], { status: 'running', startedAt: new Date() }),
      ).toBe(true);
      expect(await repository.saveColumn(ctx, stored.id, 'orders.purchaser_ciphertext', progress)).toBe(true);
      expect(await repository.saveProgress(ctx, stored.id, { 'cards.code_hash': pendingProgress() })).toBe(true);
      const read = await repository.find(ctx, stored.id);
      expect(read?.progress['orders.purchaser_ciphertext']).toMatchObject({ scanned: 7 });
      expect(Object.keys(read!.progress).sort()).toEqual(['cards.code_hash', 'orders.purchaser_ciphertext']);
      expect(await repository.transition(ctx, stored.id, ['queued'], { status: 'failed' })).toBe(false);
      expect(await repository.transition(ctx, stored.id, ['queued', 'running'], { status: 'completed' })).toBe(true);
      expect((await repository.list(ctx, { limit: 100 })).data.map((row) => row.id)).toContain(stored.id);
    });
  });

  it('holds the walk lock for one holder at a time', async () => {
    const outcome = await repository.withWalkLock(async () => (await repository.withWalkLock(async () => 1)).locked);
    expect(outcome).toEqual({ locked: true, result: false });
  });
});
