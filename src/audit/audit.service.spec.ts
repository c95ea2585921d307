import { randomBytes } from 'node:crypto';
import { CanonicalJsonText } from '../common/canonical-json';
import { RequestContext } from '../common/context/request-context';
import type { ListQueryDto, Page } from '../common/pagination/pagination';
import type { AppConfig } from '../config/app-config';
import type { QueueService } from '../queue/queue.service';
import { clientContext, FakeTransactions } from '../../test/support/unit';
import { GENESIS_HASH, linkHash, recordMac } from './audit-chain';
import type { AuditCheckpoint } from './audit-checkpoint.entity';
import type { AuditRecord } from './audit-record.entity';
import {
  type AuditRecordFilter,
  type AuditRepository,
  type CheckpointWithRecord,
  type PendingAuditRecord,
  SEAL_BATCH,
} from './audit.repository';
import { AuditService } from './audit.service';

const KEY = randomBytes(32);

/** The chain's four tables in memory; sealBatch links as SEAL_SQL does (linkHash). */
class FakeChain {
  readonly pending: PendingAuditRecord[] = [];
  readonly records: AuditRecord[] = [];
  readonly checkpoints: AuditCheckpoint[] = [];
  /** Another process holds the head's lock. */
  headBusy = false;
  batches: number[] = [];

  async append(ctx: RequestContext, record: PendingAuditRecord): Promise<void> {
    if (!ctx.transaction) throw new Error('append must run inside a transaction');
    this.pending.push(record);
  }

  async isPending(_ctx: RequestContext, id: string): Promise<boolean> {
    return this.pending.some((record) => record.id === id);
  }

  async lockHead(ctx: RequestContext, wait: boolean): Promise<boolean> {
    expect(ctx.transaction).toBeDefined();
    if (this.headBusy && wait) throw new Error('would wait forever in this fake');
    return !this.headBusy;
  }

  async sealBatch(_ctx: RequestContext, limit: number): Promise<number> {
    const batch = this.pending.splice(0, limit);
    for (const record of batch) {
      const seq = this.records.length + 1;
      const prevHash = this.records.at(-1)?.hash ?? GENESIS_HASH;
      // As the jsonb column keeps it: canonical text parsed.
      const data =
        record.data instanceof CanonicalJsonText
          ? (JSON.parse(record.data.text) as Record<string, unknown>)
          : record.data;
      this.records.push({ ...record, data, seq, prevHash, hash: linkHash(prevHash, seq, record.mac) });
    }
    this.batches.push(batch.length);
    return batch.length;
  }

  async sealInOwnTransaction(wait: boolean, limit: number): Promise<number> {
    if (this.headBusy) {
      if (wait) throw new Error('would wait forever in this fake');
      return 0;
    }
    return this.sealBatch(RequestContext.system(), limit);
  }

  async recordsAfter(_ctx: RequestContext, after: number, limit: number): Promise<AuditRecord[]> {
    return this.records.filter((record) => record.seq > after).slice(0, limit);
  }

  async recordAt(_ctx: RequestContext, seq: number) {
    return this.records.find((record) => record.seq === seq) ?? null;
  }

  async list(_ctx: RequestContext, filter: AuditRecordFilter, _page: ListQueryDto): Promise<Page<AuditRecord>> {
    const data = this.records.filter((record) => !filter.action || record.action === filter.action).reverse();
    return { object: 'list', data, has_more: false, next_cursor: null };
  }

  async newestCheckpoint(): Promise<AuditCheckpoint | null> {
    return this.checkpoints.at(-1) ?? null;
  }

  async insertCheckpoint(_ctx: RequestContext, checkpoint: Omit<AuditCheckpoint, 'id'>): Promise<void> {
    this.checkpoints.push({ ...checkpoint, id: String(this.checkpoints.length + 1) });
  }

  async checkpointsAfter(_ctx: RequestContext, afterId: string, limit: number): Promise<CheckpointWithRecord[]> {
    return this.checkpoints
      .filter((checkpoint) => Number(checkpoint.id) > Number(afterId))
      .slice(0, limit)
      .map((checkpoint) => {
        const record = this.records.find((item) => item.seq === checkpoint.seq);
        return { id: checkpoint.id, checkpoint, record: record ? { id: record.id, hash: record.hash } : null };
      });
  }
}

function setup() {
  const chain = new FakeChain();
  const transactions = new FakeTransactions();
  const config = {
    AUDIT_HMAC_KEYS: `k1:${KEY.toString('base64')}`,
    AUDIT_CHECKPOINT_INTERVAL_SECONDS: 60,
  } as AppConfig;
  const service = new AuditService(transactions.service, chain as unknown as AuditRepository, config, {
    isWorker: false,
  } as QueueService);
  return { service, chain, transactions };
}

const ctx = () => clientContext('cli_hr', 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB', ['orders:write']);
const entry = (objectId: string) => ({ action: 'test.done', objectType: 'test', objectId, summary: { n: 1 } });

describe('AuditService', () => {
  it('appends a keyed record in the change’s transaction and seals it into the chain after the commit', async () => {
    const { service, chain } = setup();
    const caller = ctx();
    await service.record(caller, entry('tst_1'));
    expect(chain.pending).toHaveLength(0);
    const [record] = chain.records;
    expect(record).toMatchObject({ seq: 1, actorClientId: 'cli_hr', requestId: caller.requestId, keyId: 'k1' });
    expect(record.mac).toBe(recordMac(KEY, { ...record, keyId: 'k1' }));
    expect(record.hash).toBe(linkHash(GENESIS_HASH, 1, record.mac!));
  });

  it('hands out the hot path’s fragment with the record signed as append signs it, sending nothing', async () => {
    const { service, chain } = setup();
    const caller = ctx();
    const fragment = service.appendSql(caller, entry('tst_1'), { source: 'card_debit', firstParam: 4 });
    expect(chain.pending).toHaveLength(0);
    expect(fragment.sql).toMatch(/^audit AS \(\s+INSERT INTO audit_pending/);
    expect(fragment.sql).toContain('$4::text');
    expect(fragment.sql).toContain('$14::text');
    expect(fragment.sql).toContain('FROM card_debit');
    const [id, occurredAt, actorClientId, enterpriseId, action, objectType, objectId, requestId, data, keyId, mac] =
      fragment.params as [string, Date, string, string, string, string, string, string, string, string, string];
    expect(id).toBe(fragment.id);
    expect([actorClientId, requestId, keyId, objectId]).toEqual(['cli_hr', caller.requestId, 'k1', 'tst_1']);
    const fields = {
      id,
      occurredAt,
      actorClientId,
      enterpriseId,
      action,
      objectType,
      objectId,
      requestId,
      data: JSON.parse(data) as Record<string, unknown>,
      keyId,
    };
    expect(mac).toBe(recordMac(KEY, fields));
  });

  it('never appends outside a transaction', async () => {
    const { service } = setup();
    await expect(service.append(ctx(), entry('tst_1'))).rejects.toThrow(/inside a transaction/);
  });

  it('leaves a rolled-back change unaudited and unsealed', async () => {
    const { service, chain, transactions } = setup();
    const caller = ctx();
    await expect(
      transactions.run(caller, async () => {
        await service.append(caller, entry('tst_1'));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(chain.batches).toEqual([]);
  });

  it('seals a batch per statement until what is pending is done', async () => {
    const { service, chain, transactions } = setup();
    const caller = ctx();
    await transactions.run(caller, async () => {
      for (let i = 0; i < SEAL_BATCH + 3; i++) await service.append(caller, entry(`tst_${i}`));
      // Sealing in the appending transaction itself (it then holds the head): everything it wrote.
      expect(await service.seal(caller)).toBe(SEAL_BATCH + 3);
    });
    expect(chain.batches.slice(0, 2)).toEqual([SEAL_BATCH, 3]);
    expect(chain.records.map((record) => record.objectId)).toEqual(chain.records.map((_, i) => `tst_${i}`));
  });

  it('runs one seal at a time per process: requests committing meanwhile share the next one', async () => {
    const { service, chain, transactions } = setup();
    // Ten requests commit at once; each one's after-commit seal asks for the chain.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const caller = ctx();
        return transactions.run(caller, () => service.append(caller, entry(`tst_${i}`)));
      }),
    );
    const seals = chain.batches.length;
    expect(chain.pending).toHaveLength(0);
    expect(chain.records).toHaveLength(10);
    // Without sharing, each of the ten would have run its own seal transaction.
    expect(seals).toBeLessThanOrEqual(3);
  });

  it('gives way on reads when another seal holds the head', async () => {
    const { service, chain, transactions } = setup();
    const caller = ctx();
    chain.headBusy = true;
    await transactions.run(caller, () => service.append(caller, entry('tst_1')));
    // The seal after the commit waited for the head (in this fake: failed); reads do not wait.
    expect(transactions.failedCallbacks).toHaveLength(1);
    expect(await service.seal(undefined, { wait: false })).toBe(0);
    expect((await service.list(ctx(), {})).data).toHaveLength(0);
    chain.headBusy = false;
    expect((await service.list(ctx(), {})).data).toHaveLength(1);
  });

  it('verifies the chain and names the first edited record', async () => {
    const { service, chain } = setup();
    for (let i = 0; i < 4; i++) await service.record(ctx(), entry(`tst_${i}`));
    expect(await service.verify(ctx())).toMatchObject({ ok: true, records_checked: 4, first_failure: null });
    chain.records[1] = { ...chain.records[1], objectId: 'tst_forged' };
    expect((await service.verify(ctx())).first_failure).toEqual({
      seq: 2,
      id: chain.records[1].id,
      reason: 'hash_mismatch',
    });
  });

  it('signs a checkpoint of an intact head, none twice, and none once the anchored record changed', async () => {
    const { service, chain } = setup();
    for (let i = 0; i < 3; i++) await service.record(ctx(), entry(`tst_${i}`));
    expect(await service.checkpoint(ctx())).toEqual({ seq: 3, hash: chain.records[2].hash });
    expect(await service.checkpoint(ctx())).toEqual({ seq: 3, hash: chain.records[2].hash });
    expect(chain.checkpoints).toHaveLength(1);

    chain.records[2] = { ...chain.records[2], hash: 'f'.repeat(64) };
    expect(await service.checkpoint(ctx())).toBeNull();
    expect(chain.checkpoints).toHaveLength(1);
    expect((await service.verify(ctx())).ok).toBe(false);
  });

  it('reports a checkpoint whose record is gone as a truncation', async () => {
    const { service, chain } = setup();
    for (let i = 0; i < 3; i++) await service.record(ctx(), entry(`tst_${i}`));
    await service.checkpoint(ctx());
    chain.records.pop();
    expect((await service.verify(ctx())).first_failure).toEqual({ seq: 3, id: null, reason: 'truncated' });
  });
});
