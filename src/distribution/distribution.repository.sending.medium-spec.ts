import { insertDistribution, stagedFileRow } from '../../test/support/medium-distribution';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { pendingRecordSql } from '../audit/audit.repository';
import type { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { claimTokenHash } from './claim-token';
import { DistributionRepository } from './distribution.repository';
import type { RecipientOutcome } from './distribution-sending.types';

const LEASE = { limit: 10, leaseMs: 60_000 };

describe('DistributionRepository, sending (real Postgres)', () => {
  let db: MediumDatabase;
  let repository: DistributionRepository;

  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new DistributionRepository(db.connection);
  });
  afterAll(() => db.close());

  const one = async <T>(ctx: RequestContext, sql: string, params: unknown[]): Promise<T> =>
    (await db.connection.query<T[]>(ctx, sql, params))[0];
  const recipientRow = (ctx: RequestContext, id: string) =>
    one<{
      status: string;
      attempts: number;
      lease_ms: number | null;
      claim_token_hash: Buffer | null;
      last_error: string | null;
    }>(
      ctx,
      `SELECT status, attempts, claim_token_hash, last_error,
              (EXTRACT(EPOCH FROM next_attempt_at - now()) * 1000)::int AS lease_ms
       FROM distribution_recipients WHERE id = $1`,
      [id],
    );
  const cardStatus = async (ctx: RequestContext, serial: string) =>
    (await one<{ status: string }>(ctx, 'SELECT status FROM cards WHERE serial = $1', [serial])).status;
  const audit = (at: { source: string; firstParam: number }) =>
    pendingRecordSql(
      {
        id: newId('audit'),
        occurredAt: new Date(),
        actorClientId: null,
        enterpriseId: null,
        action: 'distribution.messages_sent',
        objectType: 'distribution',
        objectId: 'dst_medium',
        requestId: null,
        data: {},
        keyId: 'medium',
        mac: 'medium',
      },
      at,
    );

  it('claims due queued recipients of a sending distribution once, leasing them, in one statement', () =>
    db.rolledBack(async (ctx) => {
      const d = await insertDistribution(db.connection, ctx);
      const due = [await d.recipient(), await d.recipient()];
      const later = await d.recipient({ dueInMs: 600_000 });
      await d.recipient({ status: 'sent' });
      const other = await insertDistribution(db.connection, ctx);
      await other.recipient();

      const claimed = await repository.claimDueRecipients(ctx, d.distributionId, LEASE);
      expect(claimed.map((r) => r.id).sort()).toEqual(due.map((r) => r.id).sort());
      expect(claimed[0]).toMatchObject({ attempt: 1, channel: 'email', claimLinkTtlDays: 30, orderId: d.orderId });
      const leased = await recipientRow(ctx, due[0].id);
      expect(leased.status).toBe('queued');
      expect(leased.lease_ms).toBeGreaterThan(55_000);
      // Leased: a second claim finds nothing until the lease runs out; the later one stays for its time.
      expect(await repository.claimDueRecipients(ctx, d.distributionId, LEASE)).toEqual([]);
      expect((await recipientRow(ctx, later.id)).attempts).toBe(0);
    }));

  it('finds distributions whose recipients are overdue (lost wake-up, lost lease), not those just due', () =>
    db.rolledBack(async (ctx) => {
      const lost = await insertDistribution(db.connection, ctx);
      await lost.recipient({ dueInMs: -20_000 });
      const fresh = await insertDistribution(db.connection, ctx);
      await fresh.recipient({ dueInMs: -1_000 });
      const cancelled = await insertDistribution(db.connection, ctx, { status: 'cancelled' });
      await cancelled.recipient({ dueInMs: -20_000 });
      const overdue = await repository.distributionsWithDueRecipients(ctx, 10_000, 100_000);
      const ids = overdue.map((due) => due.distributionId);
      expect(overdue).toContainEqual({ distributionId: lost.distributionId, due: 1 });
      expect(ids).not.toContain(fresh.distributionId);
      expect(ids).not.toContain(cancelled.distributionId);
    }));

  it('claims nothing of a scheduled or cancelled distribution', () =>
    db.rolledBack(async (ctx) => {
      for (const status of ['scheduled', 'cancelled'] as const) {
        const d = await insertDistribution(db.connection, ctx, { status });
        await d.recipient();
        expect(await repository.claimDueRecipients(ctx, d.distributionId, LEASE)).toEqual([]);
      }
    }));

  it('records outcomes, messages, card deliveries, events and the audit record in one statement', () =>
    db.rolledBack(async (ctx) => {
      const d = await insertDistribution(db.connection, ctx);
      const [mailed, retried, bounced, exhausted] = [
        await d.recipient(),
        await d.recipient({ channel: 'sms' }),
        await d.recipient(),
        await d.recipient(),
      ];
      const claimed = await repository.claimDueRecipients(ctx, d.distributionId, LEASE);
      expect(claimed).toHaveLength(4);
      const hash = claimTokenHash('x'.repeat(43));
      const message = (status: 'delivered' | 'failed' | 'bounced', channel: 'email' | 'sms' = 'email') => ({
        id: newId('distributionMessage'),
        channel,
        kind: 'initial' as const,
        status,
        providerMessageId: status === 'delivered' ? '<m@x>' : null,
        error: status === 'delivered' ? null : 'SMTP 451',
      });
      const outcomes: RecipientOutcome[] = [
        {
          recipientId: mailed.id,
          attempt: 1,
          status: 'delivered',
          tokenHash: hash,
          ttlDays: 30,
          delayMs: null,
          error: null,
          message: message('delivered'),
        },
        {
          recipientId: retried.id,
          attempt: 1,
          status: 'queued',
          tokenHash: null,
          ttlDays: 30,
          delayMs: 60_000,
          error: 'timeout',
          message: message('failed', 'sms'),
        },
        {
          recipientId: bounced.id,
          attempt: 1,
          status: 'bounced',
          tokenHash: null,
          ttlDays: 30,
          delayMs: null,
          error: 'SMTP 550',
          message: message('bounced'),
        },
        // A stale attempt (another worker's lease took it over): left alone.
        {
          recipientId: exhausted.id,
          attempt: 7,
          status: 'failed',
          tokenHash: null,
          ttlDays: 30,
          delayMs: null,
          error: 'x',
          message: null,
        },
      ];
      const events = [
        {
          key: mailed.id,
          enterpriseId: d.enterpriseId,
          type: 'card.delivered' as const,
          data: { serial: mailed.serial },
        },
        {
          key: bounced.id,
          enterpriseId: d.enterpriseId,
          type: 'card.delivery_failed' as const,
          data: { serial: bounced.serial },
        },
        {
          key: exhausted.id,
          enterpriseId: d.enterpriseId,
          type: 'card.delivery_failed' as const,
          data: { serial: exhausted.serial },
        },
      ];
      const { moved, auditId } = await repository.recordSendOutcomes(ctx, outcomes, events, audit);

      expect(moved.map((m) => [m.id, m.status]).sort()).toEqual(
        [
          [mailed.id, 'delivered'],
          [retried.id, 'queued'],
          [bounced.id, 'bounced'],
        ].sort(),
      );
      const delivered = await recipientRow(ctx, mailed.id);
      expect(delivered.status).toBe('delivered');
      expect(delivered.claim_token_hash?.equals(hash)).toBe(true);
      expect(await cardStatus(ctx, mailed.serial)).toBe('delivered');
      expect(await cardStatus(ctx, bounced.serial)).toBe('issued');
      const retry = await recipientRow(ctx, retried.id);
      expect(retry.status).toBe('queued');
      expect(retry.lease_ms).toBeGreaterThan(55_000);
      expect(retry.lease_ms).toBeLessThanOrEqual(60_000);
      expect(retry.last_error).toBe('timeout');
      expect((await recipientRow(ctx, exhausted.id)).status).toBe('queued');
      const written = await db.connection.query<Array<{ type: string; serial: string }>>(
        ctx,
        `SELECT type, data->>'serial' AS serial FROM events WHERE enterprise_id = $1 ORDER BY type`,
        [d.enterpriseId],
      );
      expect(written).toEqual([
        { type: 'card.delivered', serial: mailed.serial },
        { type: 'card.delivery_failed', serial: bounced.serial },
      ]);
      const messages = await db.connection.query<Array<{ status: string }>>(
        ctx,
        `SELECT m.status FROM distribution_messages m JOIN distribution_recipients r ON r.id = m.recipient_id
         WHERE r.distribution_id = $1 ORDER BY m.status`,
        [d.distributionId],
      );
      expect(messages.map((m) => m.status)).toEqual(['bounced', 'delivered', 'failed']);
      expect(await one(ctx, 'SELECT id FROM audit_pending WHERE id = $1', [auditId])).toEqual({ id: auditId });
    }));

  it('applies SMS receipts once: sent → delivered (card delivered) or bounced; repeats change nothing', () =>
    db.rolledBack(async (ctx) => {
      const d = await insertDistribution(db.connection, ctx);
      const ok = await d.recipient({ status: 'sent', channel: 'sms' });
      const dead = await d.recipient({ status: 'sent', channel: 'sms' });
      for (const [recipient, sid] of [
        [ok, 'sid-ok'],
        [dead, 'sid-dead'],
      ] as const) {
        await db.connection.query(
          ctx,
          `INSERT INTO distribution_messages (id, recipient_id, channel, kind, status, provider_message_id)
           VALUES ($1, $2, 'sms', 'initial', 'sent', $3)`,
          [newId('distributionMessage'), recipient.id, sid],
        );
      }
      const targets = await repository.messagesByProviderIds(ctx, ['sid-ok', 'sid-dead', 'sid-unknown']);
      expect(targets.map((t) => t.providerMessageId).sort()).toEqual(['sid-dead', 'sid-ok']);
      const changes = targets.map((t) => ({
        messageId: t.messageId,
        recipientId: t.recipientId,
        status: t.providerMessageId === 'sid-ok' ? ('delivered' as const) : ('bounced' as const),
        error: t.providerMessageId === 'sid-ok' ? null : 'MK:0001 空号',
      }));
      expect((await repository.applyReceipts(ctx, changes)).sort()).toEqual([ok.id, dead.id].sort());
      expect((await recipientRow(ctx, ok.id)).status).toBe('delivered');
      expect(await cardStatus(ctx, ok.serial)).toBe('delivered');
      expect((await recipientRow(ctx, dead.id)).status).toBe('bounced');
      expect(await repository.applyReceipts(ctx, changes)).toEqual([]);
    }));

  it('starts scheduled distributions that are due, expires lapsed links and completes finished distributions', () =>
    db.rolledBack(async (ctx) => {
      const scheduled = await insertDistribution(db.connection, ctx, { status: 'scheduled' });
      const waiting = await scheduled.recipient({ status: 'scheduled' });
      await db.connection.query(ctx, `UPDATE distributions SET send_at = now() - interval '1 minute' WHERE id = $1`, [
        scheduled.distributionId,
      ]);
      const started = await repository.startScheduledDue(ctx, 1000);
      expect(started).toContainEqual({ distributionId: scheduled.distributionId, due: 1 });
      expect((await recipientRow(ctx, waiting.id)).status).toBe('queued');

      const d = await insertDistribution(db.connection, ctx);
      const lapsed = await d.recipient({ status: 'sent' });
      await db.connection.query(
        ctx,
        `UPDATE distribution_recipients SET claim_expires_at = now() - interval '1 second', claim_token_hash = $2
         WHERE id = $1`,
        [lapsed.id, claimTokenHash('y'.repeat(43))],
      );
      expect(await repository.expireClaimLinks(ctx, 100_000)).toBeGreaterThanOrEqual(1);
      const expired = await recipientRow(ctx, lapsed.id);
      expect(expired.status).toBe('expired');
      expect(expired.claim_token_hash).toBeNull();

      const done = await repository.completeFinishedDistributions(ctx, 100_000);
      expect(done.map((x) => x.id)).toContain(d.distributionId);
      expect(done.map((x) => x.id)).not.toContain(scheduled.distributionId);
    }));

  it('deletes expired upload files of any enterprise with their rows (the sweep), not those still valid', () =>
    db.rolledBack(async (ctx) => {
      const file = async (enterpriseId: string, expiresInMs: number) => {
        const id = newId('distributionFile');
        await db.connection.query(
          ctx,
          `INSERT INTO distribution_files (id, enterprise_id, filename, format, row_count, expires_at)
           VALUES ($1, $2, 'staff.csv', 'csv', 2, now() + $3 * interval '1 millisecond')`,
          [id, enterpriseId, expiresInMs],
        );
        await repository.insertFileRows(ctx, id, [
          stagedFileRow(1, { realNameSealed: 'v1.k1.sealed' }),
          stagedFileRow(2),
        ]);
        return id;
      };
      // Two enterprises that never upload again, and one file still within its 72 hours.
      const lapsed = [await file(`ent_${newId('enterprise')}`, -60_000), await file(`ent_${newId('enterprise')}`, -1)];
      const valid = await file(`ent_${newId('enterprise')}`, 3_600_000);
      const filesLeft = async (ids: string[]) =>
        (await one<{ n: number }>(ctx, 'SELECT count(*)::int AS n FROM distribution_files WHERE id = ANY($1)', [ids]))
          .n;
      const rowsLeft = async (ids: string[]) =>
        (
          await one<{ n: number }>(
            ctx,
            'SELECT count(*)::int AS n FROM distribution_file_rows WHERE file_id = ANY($1)',
            [ids],
          )
        ).n;

      expect(await repository.purgeExpiredFiles(ctx, 100_000)).toBeGreaterThanOrEqual(2);
      expect(await filesLeft(lapsed)).toBe(0);
      expect(await rowsLeft(lapsed)).toBe(0);
      expect(await filesLeft([valid])).toBe(1);
      expect(await rowsLeft([valid])).toBe(2);
      await repository.purgeExpiredFiles(ctx, 100_000);
      expect(await filesLeft([valid])).toBe(1);
    }));

  it('claims each unopened recipient for one reminder before its link expires', () =>
    db.rolledBack(async (ctx) => {
      const d = await insertDistribution(db.connection, ctx);
      const due = await d.recipient({ status: 'delivered' });
      const opened = await d.recipient({ status: 'viewed' });
      const far = await d.recipient({ status: 'delivered' });
      await db.connection.query(
        ctx,
        `UPDATE distribution_recipients SET claim_expires_at = now() + CASE WHEN id = $3 THEN interval '20 days'
           ELSE interval '2 days' END, viewed_at = CASE WHEN id = $2 THEN now() END
         WHERE id = ANY($1::text[])`,
        [[due.id, opened.id, far.id], opened.id, far.id],
      );
      const reminders = await repository.claimReminders(ctx, 3, 100_000);
      const mine = reminders.filter((r) => r.distributionId === d.distributionId);
      expect(mine.map((r) => r.recipientId)).toEqual([due.id]);
      const hash = claimTokenHash('z'.repeat(43));
      await repository.recordReminders(ctx, [
        {
          messageId: mine[0].messageId,
          recipientId: due.id,
          tokenHash: hash,
          status: 'delivered',
          providerMessageId: '<r@x>',
          error: null,
        },
      ]);
      expect((await recipientRow(ctx, due.id)).claim_token_hash?.equals(hash)).toBe(true);
      const again = await repository.claimReminders(ctx, 3, 100_000);
      expect(again.filter((r) => r.distributionId === d.distributionId)).toEqual([]);
    }));

  it('knows when every card of an order is handed over', () =>
    db.rolledBack(async (ctx) => {
      const d = await insertDistribution(db.connection, ctx);
      const first = await d.recipient({ status: 'delivered', cardStatus: 'delivered' });
      const second = await d.recipient({ status: 'sent' });
      expect(await repository.orderHandedOver(ctx, d.orderId)).toBe(false);
      await db.connection.query(ctx, `UPDATE distribution_recipients SET status = 'viewed' WHERE id = $1`, [second.id]);
      expect(await repository.orderHandedOver(ctx, d.orderId)).toBe(true);
      expect(first.serial).toBeDefined();
    }));

  it('revokes a recipient (the link dies) and requeues one for a resend', () =>
    db.rolledBack(async (ctx) => {
      const d = await insertDistribution(db.connection, ctx);
      const revoked = await d.recipient({ status: 'delivered', cardStatus: 'delivered' });
      const resent = await d.recipient({ status: 'delivered' });
      const claimed = await d.recipient({ status: 'claimed' });
      expect(await repository.revokeRecipients(ctx, { recipientId: revoked.id })).toEqual([revoked.serial]);
      expect(await repository.revokeRecipients(ctx, { recipientId: claimed.id })).toEqual([]);
      expect(await repository.requeueRecipient(ctx, resent.id, { email: 'new@example.com' })).toBe(true);
      const row = await recipientRow(ctx, resent.id);
      expect(row).toMatchObject({ status: 'queued', attempts: 0, claim_token_hash: null });
      expect(await repository.requeueRecipient(ctx, claimed.id, {})).toBe(false);
    }));
});
