import { newId } from '../common/ids';
import { RequestContext } from '../common/context/request-context';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { GENESIS_HASH, linkHash } from './audit-chain';
import { AuditRepository, type PendingAuditRecord } from './audit.repository';

const pending = (objectId: string): PendingAuditRecord => ({
  id: newId('audit'),
  occurredAt: new Date(),
  actorClientId: 'cli_medium',
  enterpriseId: null,
  action: 'test.medium',
  objectType: 'test',
  objectId,
  requestId: 'req_medium',
  data: { summary: { objectId } },
  keyId: 'k1',
  mac: 'a'.repeat(64),
});

describe('AuditRepository (medium)', () => {
  let db: MediumDatabase;
  let repository: AuditRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new AuditRepository(db.connection);
  });
  afterAll(() => db.close());

  it('appends only inside a transaction', async () => {
    await expect(repository.append(RequestContext.system(), pending('tst_0'))).rejects.toThrow(/inside a transaction/);
  });

  it('seals pending records into the chain in append order, linked as linkHash computes, and moves the head', async () => {
    await db.rolledBack(async (ctx) => {
      const records = [pending('tst_1'), pending('tst_2'), pending('tst_3')];
      for (const record of records) await repository.append(ctx, record);
      expect(await repository.isPending(ctx, records[0].id)).toBe(true);
      expect(await repository.lockHead(ctx, true)).toBe(true);
      const [head] = await db.connection.query<Array<{ seq: string; hash: string }>>(
        ctx,
        'SELECT seq::text AS seq, hash FROM audit_chain_head WHERE id = 1',
      );
      expect(await repository.sealBatch(ctx, 2)).toBe(2);
      expect(await repository.sealBatch(ctx, 1000)).toBe(1);
      expect(await repository.isPending(ctx, records[0].id)).toBe(false);

      const sealed = await repository.recordsAfter(ctx, Number(head.seq), 10);
      expect(sealed.map((record) => record.objectId)).toEqual(['tst_1', 'tst_2', 'tst_3']);
      let prev = Number(head.seq) === 0 ? GENESIS_HASH : head.hash;
      for (const record of sealed) {
        expect(record.prevHash).toBe(prev);
        expect(record.hash).toBe(linkHash(prev, record.seq, record.mac!));
        prev = record.hash;
      }
      expect(await repository.recordAt(ctx, sealed[2].seq)).toEqual({
        seq: sealed[2].seq,
        id: sealed[2].id,
        hash: prev,
      });
      const page = await repository.list(ctx, { action: 'test.medium', objectId: 'tst_2' }, { limit: 10 });
      expect(page.data.map((record) => record.objectId)).toEqual(['tst_2']);
    });
  });

  it('seals in a short transaction of its own, giving way when asked', async () => {
    // Nothing committed is pending in this run's database: the seal links nothing, and commits.
    expect(await repository.sealInOwnTransaction(false)).toBeGreaterThanOrEqual(0);
    expect(await repository.sealInOwnTransaction(true)).toBeGreaterThanOrEqual(0);
  });

  it('joins each checkpoint to the record it names', async () => {
    await db.rolledBack(async (ctx) => {
      await repository.append(ctx, pending('tst_cp'));
      await repository.lockHead(ctx, true);
      await repository.sealBatch(ctx, 1000);
      const [record] = (await repository.list(ctx, { objectId: 'tst_cp' }, { limit: 1 })).data;
      const before = await repository.newestCheckpoint(ctx);
      const createdAt = new Date();
      await repository.insertCheckpoint(ctx, {
        seq: record.seq,
        hash: record.hash,
        keyId: 'k1',
        mac: 'b'.repeat(64),
        createdAt,
      });
      await repository.insertCheckpoint(ctx, {
        seq: record.seq + 1000,
        hash: 'c'.repeat(64),
        keyId: 'k1',
        mac: 'b'.repeat(64),
        createdAt,
      });
      const newest = await repository.newestCheckpoint(ctx);
      expect(newest?.seq).toBe(record.seq + 1000);
      const joined = await repository.checkpointsAfter(ctx, before?.id ?? '0', 10);
      expect(joined.map((row) => row.record)).toEqual([{ id: record.id, hash: record.hash }, null]);
      expect(joined[0].checkpoint).toMatchObject({ seq: record.seq, keyId: 'k1' });
    });
  });
});
