import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { linkHash, recordMac } from '../src/audit/audit-chain';
import { auditKeysFrom } from '../src/audit/audit-keys';
import { AuditRecord } from '../src/audit/audit-record.entity';
import { AuditService } from '../src/audit/audit.service';
import { RequestContext } from '../src/common/context/request-context';
import { startTestApp, type TestApp } from './support/app';
import { createClient, createEnterprise, createProduct, newCreditCode, recordTransfer } from './support/fixtures';

interface AuditRecordBody {
  object: 'audit_record';
  id: string;
  seq: number;
  action: string;
  object_id: string;
  prev_hash: string;
  hash: string;
}

describe('audit chain', () => {
  let app: TestApp;
  let operator: string;
  let audit: AuditService;

  beforeAll(async () => {
    app = await startTestApp();
    operator = await app.operatorToken();
    audit = app.app.get(AuditService);
  });
  afterAll(async () => {
    await app.close();
  });

  const get = (path: string) => app.http.get(path).auth(operator, { type: 'bearer' });

  /** An enterprise with three audit records (created, updated, updated), oldest first. */
  async function enterpriseWithHistory(): Promise<{ id: string; records: AuditRecordBody[] }> {
    const created = await app.http
      .post('/v1/admin/enterprises')
      .auth(operator, { type: 'bearer' })
      .send({ name: `Audit Co ${randomUUID()}`, credit_code: newCreditCode() })
      .expect(201);
    const id = created.body.id as string;
    for (const discount of [100, 200]) {
      await app.http
        .patch(`/v1/admin/enterprises/${id}`)
        .auth(operator, { type: 'bearer' })
        .send({ discount_bps: discount })
        .expect(200);
    }
    const listed = await get(`/v1/admin/audit?object_id=${id}`).expect(200);
    const records = (listed.body.data as AuditRecordBody[]).slice().reverse();
    expect(records.map((record) => record.action)).toEqual([
      'enterprise.created',
      'enterprise.updated',
      'enterprise.updated',
    ]);
    return { id, records };
  }

  /**
   * Tampering happens in a transaction that is rolled back, with verify() reading
   * through that same transaction: the e2e database is shared with test files
   * running in parallel, and they must never see a broken chain. The triggers that
   * keep the tables append-only are bypassed in it, as a superuser could: that is
   * the attacker the keyed chain and its checkpoints are for.
   */
  async function inRolledBackTransaction(
    work: (ctx: RequestContext, manager: EntityManager) => Promise<void>,
  ): Promise<void> {
    const runner = app.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      await runner.query('SET LOCAL session_replication_role = replica');
      const ctx = RequestContext.system();
      ctx.bindTransaction({ manager: runner.manager, afterCommit: [] });
      await work(ctx, runner.manager);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  }

  describe('GET /v1/admin/audit/verify', () => {
    it('verifies an untouched chain', async () => {
      const { records } = await enterpriseWithHistory();
      const response = await get('/v1/admin/audit/verify').expect(200);
      expect(response.body).toEqual({
        object: 'audit_verification',
        ok: true,
        records_checked: expect.any(Number),
        checkpoints_checked: expect.any(Number),
        head: { seq: response.body.records_checked, hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
        first_failure: null,
      });
      expect(response.body.records_checked).toBeGreaterThanOrEqual(records[2].seq);
    });

    it('is for operators only', async () => {
      await app.http.get('/v1/admin/audit/verify').expect(401);
      await app.http.get('/v1/admin/audit').expect(401);
    });
  });

  describe('tamper detection', () => {
    it('reports an edited record as hash_mismatch with its seq', async () => {
      const { records } = await enterpriseWithHistory();
      const target = records[1];
      await inRolledBackTransaction(async (ctx, manager) => {
        await manager.query(
          `UPDATE audit_records SET data = jsonb_set(data, '{summary,forged}', 'true') WHERE seq = $1`,
          [target.seq],
        );
        expect(await audit.verify(ctx)).toEqual({
          object: 'audit_verification',
          ok: false,
          records_checked: target.seq,
          checkpoints_checked: 0,
          head: null,
          first_failure: { seq: target.seq, id: target.id, reason: 'hash_mismatch' },
        });
        // Nobody outside the transaction sees the edit.
        const outside = await get('/v1/admin/audit/verify').expect(200);
        expect(outside.body.ok).toBe(true);
      });
    });

    it('reports an edited record whose link was recomputed as hash_mismatch: its MAC needs the key', async () => {
      const { records } = await enterpriseWithHistory();
      const target = records[1];
      await inRolledBackTransaction(async (ctx, manager) => {
        const stored = await manager.findOneByOrFail(AuditRecord, { seq: target.seq });
        expect(stored.keyId).toBe('test');
        await manager.update(
          AuditRecord,
          { seq: target.seq },
          { action: 'enterprise.created', hash: linkHash(stored.prevHash, stored.seq, stored.mac!) },
        );
        expect((await audit.verify(ctx)).first_failure).toEqual({
          seq: target.seq,
          id: target.id,
          reason: 'hash_mismatch',
        });
      });
    });

    it('reports a record rewritten with a valid MAC as broken_link at the next record', async () => {
      const { records } = await enterpriseWithHistory();
      const target = records[1];
      const { key } = auditKeysFrom(app.runtime.config).signing;
      await inRolledBackTransaction(async (ctx, manager) => {
        const stored = await manager.findOneByOrFail(AuditRecord, { seq: target.seq });
        const forged = { ...stored, action: 'enterprise.created', keyId: stored.keyId! };
        const mac = recordMac(key, forged);
        await manager.update(
          AuditRecord,
          { seq: target.seq },
          { action: forged.action, mac, hash: linkHash(stored.prevHash, stored.seq, mac) },
        );
        const result = await audit.verify(ctx);
        const successor = await manager.findOneByOrFail(AuditRecord, { seq: target.seq + 1 });
        expect(result.first_failure).toEqual({ seq: successor.seq, id: successor.id, reason: 'broken_link' });
      });
    });

    it('reports a deleted middle record as missing_record with the missing seq', async () => {
      const { records } = await enterpriseWithHistory();
      const target = records[1];
      await inRolledBackTransaction(async (ctx, manager) => {
        await manager.query('DELETE FROM audit_records WHERE seq = $1', [target.seq]);
        expect(await audit.verify(ctx)).toMatchObject({
          ok: false,
          first_failure: { seq: target.seq, id: null, reason: 'missing_record' },
        });
      });
    });

    it('walks chains longer than one batch', async () => {
      await inRolledBackTransaction(async (ctx, manager) => {
        for (let i = 0; i < 1005; i++) {
          await audit.record(ctx, {
            action: 'test.appended',
            objectType: 'test',
            objectId: `tst_${i}`,
            summary: { i },
          });
        }
        // More than one seal batch, linked in the order they were appended.
        expect(await audit.seal(ctx)).toBeGreaterThanOrEqual(1005);
        const appended = await manager.find(AuditRecord, { where: { action: 'test.appended' }, order: { seq: 'ASC' } });
        expect(appended.map((record) => record.objectId)).toEqual(appended.map((_, i) => `tst_${i}`));
        expect(appended.map((record) => record.seq)).toEqual(appended.map((_, i) => appended[0].seq + i));
        const intact = await audit.verify(ctx);
        expect(intact).toMatchObject({ ok: true, first_failure: null });
        expect(intact.records_checked).toBe(appended[appended.length - 1].seq);

        const victim = appended[appended.length - 2];
        await manager.query(`UPDATE audit_records SET object_id = 'tst_forged' WHERE seq = $1`, [victim.seq]);
        expect((await audit.verify(ctx)).first_failure).toEqual({
          seq: victim.seq,
          id: victim.id,
          reason: 'hash_mismatch',
        });
      });
    });
  });

  describe('checkpoints', () => {
    it('detects a deleted tail: the newest checkpoint names a record that is gone', async () => {
      await inRolledBackTransaction(async (ctx, manager) => {
        for (const n of [1, 2]) {
          await audit.record(ctx, { action: 'test.appended', objectType: 'test', objectId: `tst_tail_${n}` });
        }
        const head = await audit.checkpoint(ctx);
        expect(head).not.toBeNull();
        const intact = await audit.verify(ctx);
        expect(intact).toMatchObject({ ok: true, head, first_failure: null });
        expect(intact.checkpoints_checked).toBeGreaterThanOrEqual(1);

        // Both new records go: the chain itself is still a valid chain, one record shorter.
        await manager.query('DELETE FROM audit_records WHERE seq >= $1', [head!.seq - 1]);
        expect(await audit.verify(ctx)).toMatchObject({
          ok: false,
          head: null,
          first_failure: { seq: head!.seq, id: null, reason: 'truncated' },
        });
      });
    });

    it('refuses a checkpoint not signed with the key, and checkpoints only an intact chain', async () => {
      const { records } = await enterpriseWithHistory();
      await inRolledBackTransaction(async (ctx, manager) => {
        const head = await audit.checkpoint(ctx);
        await manager.query('UPDATE audit_checkpoints SET hash = $1 WHERE seq = $2', ['d'.repeat(64), head!.seq]);
        expect((await audit.verify(ctx)).first_failure).toEqual({
          seq: head!.seq,
          id: null,
          reason: 'checkpoint_mismatch',
        });
      });
      await inRolledBackTransaction(async (ctx, manager) => {
        await manager.query(`UPDATE audit_records SET object_id = 'ent_forged' WHERE seq = $1`, [records[1].seq]);
        const before = await manager.query<unknown[]>('SELECT 1 FROM audit_checkpoints');
        expect(await audit.checkpoint(ctx)).toBeNull();
        expect(await manager.query<unknown[]>('SELECT 1 FROM audit_checkpoints')).toHaveLength(before.length);
      });
    });
  });

  describe('money movements of orders', () => {
    it('audits transfers released to prepaid by a cancellation, with the client that cancelled and its reason', async () => {
      const product = await createProduct(app);
      const enterprise = await createEnterprise(app);
      const client = await createClient(app, { enterprise_id: enterprise.id, scopes: ['orders:write', 'orders:read'] });
      const token = await app.tokenFor(client.id, client.client_secret);
      const placed = await app.http
        .post('/v1/orders')
        .auth(token, { type: 'bearer' })
        .send({
          po_number: `AUDIT-${Date.now()}`,
          payment_method: 'bank_transfer',
          lines: [{ product_id: product.id, face_value: 10_000, quantity: 2 }],
        })
        .expect(201);
      const orderId = placed.body.id as string;
      await recordTransfer(app, operator, {
        enterprise_id: enterprise.id,
        payer_account_name: enterprise.name,
        amount: 5_000,
        kind: 'order_transfer',
        order_id: orderId,
      }).expect(201);
      await app.http
        .post(`/v1/orders/${orderId}/cancel`)
        .auth(token, { type: 'bearer' })
        .send({ reason: 'budget withdrawn' })
        .expect(200);
      const listed = await get(`/v1/admin/audit?object_id=${orderId}&action=order.deposits_released`).expect(200);
      expect(listed.body.data).toEqual([
        expect.objectContaining({
          actor_client_id: client.id,
          enterprise_id: enterprise.id,
          data: expect.objectContaining({
            summary: { amount: 5_000, status: 'cancelled', reason: 'budget withdrawn' },
          }),
        }),
      ]);
    });
  });

  describe('append-only tables', () => {
    it.each([
      ['audit_records', 'UPDATE audit_records SET action = action WHERE seq = (SELECT max(seq) FROM audit_records)'],
      ['audit_records', 'DELETE FROM audit_records WHERE seq = (SELECT max(seq) FROM audit_records)'],
      ['audit_records', 'TRUNCATE audit_records'],
      ['card_transactions', 'UPDATE card_transactions SET amount = amount'],
      ['card_transactions', 'DELETE FROM card_transactions'],
      ['card_transactions', 'TRUNCATE card_transactions'],
      ['audit_checkpoints', 'DELETE FROM audit_checkpoints'],
    ])('%s: the database refuses %s', async (table, sql) => {
      await enterpriseWithHistory();
      const runner = app.dataSource.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      try {
        // One row at least, so that a row trigger has something to refuse.
        if (table === 'card_transactions') {
          await runner.query(
            `INSERT INTO card_transactions (serial, enterprise_id, kind, amount, balance_after) VALUES (1, 'ent_x', 'freeze', 0, 0)`,
          );
        }
        if (table === 'audit_checkpoints') {
          await runner.query(
            `INSERT INTO audit_checkpoints (seq, hash, key_id, mac, created_at) VALUES (1, repeat('a', 64), 'test', repeat('b', 64), now())`,
          );
        }
        await expect(runner.query(sql)).rejects.toMatchObject({
          code: '23001',
          message: expect.stringContaining(`${table} is append-only`),
        });
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
    });
  });

  describe('appends', () => {
    it('stay gap-free and linked under concurrent requests', async () => {
      const codes = Array.from({ length: 8 }, () => newCreditCode());
      const responses = await Promise.all(
        codes.map((code, i) =>
          app.http
            .post('/v1/admin/enterprises')
            .auth(operator, { type: 'bearer' })
            .send({ name: `Parallel ${i}`, credit_code: code }),
        ),
      );
      expect(responses.map((response) => response.status)).toEqual(codes.map(() => 201));
      const seqs: number[] = [];
      for (const response of responses) {
        const listed = await get(`/v1/admin/audit?object_id=${response.body.id as string}`).expect(200);
        seqs.push(...(listed.body.data as AuditRecordBody[]).map((record) => record.seq));
      }
      expect(new Set(seqs).size).toBe(8);
      const verification = await get('/v1/admin/audit/verify').expect(200);
      expect(verification.body).toMatchObject({ ok: true, first_failure: null });
    });
  });

  describe('GET /v1/admin/audit', () => {
    it('lists records newest first, filtered, with cursor pages', async () => {
      const { id, records } = await enterpriseWithHistory();
      const first = await get(`/v1/admin/audit?object_id=${id}&limit=2`).expect(200);
      expect(first.body).toMatchObject({ object: 'list', has_more: true, next_cursor: records[1].id });
      expect((first.body.data as AuditRecordBody[]).map((record) => record.id)).toEqual([records[2].id, records[1].id]);
      const second = await get(
        `/v1/admin/audit?object_id=${id}&limit=2&starting_after=${first.body.next_cursor as string}`,
      ).expect(200);
      expect(second.body).toMatchObject({ has_more: false, next_cursor: null });
      expect((second.body.data as AuditRecordBody[]).map((record) => record.id)).toEqual([records[0].id]);

      const created = await get(`/v1/admin/audit?enterprise_id=${id}&action=enterprise.created`).expect(200);
      expect(created.body.data).toHaveLength(1);
      expect(created.body.data[0]).toEqual({
        object: 'audit_record',
        id: records[0].id,
        seq: records[0].seq,
        occurred_at: expect.stringMatching(/Z$/),
        actor_client_id: expect.stringMatching(/^cli_/),
        enterprise_id: id,
        action: 'enterprise.created',
        object_type: 'enterprise',
        object_id: id,
        request_id: expect.any(String),
        data: {
          before_sha256: null,
          after_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          summary: expect.any(Object),
        },
        key_id: 'test',
        mac: expect.stringMatching(/^[0-9a-f]{64}$/),
        prev_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
    });

    it('refuses unknown filters', async () => {
      const response = await get('/v1/admin/audit?actor=me').expect(400);
      expect(response.body.code).toBe('validation_failed');
    });
  });
});
