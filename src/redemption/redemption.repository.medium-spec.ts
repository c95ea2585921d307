import { randomBytes } from 'node:crypto';
import { insertCard } from '../../test/support/medium-cards';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import type { AuditRepository } from '../audit/audit.repository';
import { AuditService } from '../audit/audit.service';
import type { AppConfig } from '../config/app-config';
import type { TransactionService } from '../database/transaction.service';
import type { QueueService } from '../queue/queue.service';
import { newId } from '../common/ids';
import { RedemptionRepository } from './redemption.repository';
import { serialDebitStatement } from './redemption.service';

describe('RedemptionRepository (medium)', () => {
  let db: MediumDatabase;
  let redemptions: RedemptionRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    const config = { AUDIT_HMAC_KEYS: `medium:${Buffer.alloc(32, 'medium').toString('base64')}` } as AppConfig;
    redemptions = new RedemptionRepository(db.connection, auditSigningOnly(config));
  });
  afterAll(() => db.close());

  const client = () => `cli_medium${randomBytes(6).toString('hex')}`;

  it('claims a reference once, completes the row, and finds it again with its reversed amount', () =>
    db.rolledBack(async (ctx) => {
      const clientId = client();
      const claim = { id: newId('redemption'), clientId, reference: 'ref-1', kind: 'bind' as const, fingerprint: 'f' };
      expect(await redemptions.claim(ctx, claim)).toBe(true);
      expect(await redemptions.claim(ctx, { ...claim, id: newId('redemption') })).toBe(false);
      const response = { object: 'redemption', id: claim.id } as never;
      await redemptions.complete(ctx, {
        ...claim,
        enterpriseId: 'ent_1',
        holderRef: 'h',
        amount: 0,
        reversesId: null,
        response,
      });
      expect(await redemptions.byReference(ctx, clientId, 'ref-1')).toEqual({
        id: claim.id,
        fingerprint: 'f',
        response,
        reversedAmount: 0,
      });
    }));

  /** The debit statement of `amount` on the card, by channel cli_medium for holder `holder`. */
  const debitOf = (
    card: { serial: string; enterpriseId: string },
    amount: number,
    reference: string,
    endUserIp: string | null = null,
  ) =>
    serialDebitStatement({
      ...card,
      clientId: 'cli_medium',
      holderRef: 'holder',
      amount,
      reference,
      fingerprint: 'f'.repeat(64),
      id: newId('redemption'),
      entryId: newId('journalEntry'),
      requestId: 'req_medium',
      createdAt: new Date(),
      endUserIp,
    });

  it('debits by serial in one statement: card, movement, ledger, event, audit record and redemption row', () =>
    db.rolledBack(async (ctx) => {
      const { serial, enterpriseId } = await insertCard(db.connection, ctx, { clientId: 'cli_medium' });
      const statement = (amount: number, reference: string) => debitOf({ serial, enterpriseId }, amount, reference);
      const spent = statement(2_500, 'd-1');
      const result = await redemptions.debitBySerial(ctx, spent);
      expect(result).toMatchObject({ outcome: 'debited', balance: 7_500, status: 'active' });
      if (result.outcome !== 'debited') return;
      expect(result.response).toMatchObject({
        id: spent.redemption.id,
        cards: [{ serial, amount: -2_500, balance_after: 7_500, status: 'active' }],
      });
      const [written] = await db.connection.query<Array<Record<string, string>>>(
        ctx,
        `SELECT (SELECT count(*) FROM card_transactions WHERE redemption_id = $1)::text AS movements,
                (SELECT count(*) FROM ledger_lines WHERE entry_id = $2)::text AS lines,
                (SELECT data->>'balance_after' FROM events WHERE data->>'redemption_id' = $1) AS event_balance,
                (SELECT count(*) FROM audit_pending WHERE id = $3)::text AS audit,
                (SELECT enterprise_id FROM redemptions WHERE id = $1) AS enterprise`,
        [spent.redemption.id, spent.entry.id, result.auditId],
      );
      expect(written).toEqual({
        movements: '1',
        lines: '2',
        event_balance: '7500',
        audit: '1',
        enterprise: enterpriseId,
      });
      // More than the balance: nothing at all is written.
      const refused = statement(7_501, 'd-2');
      expect(await redemptions.debitBySerial(ctx, refused)).toEqual({ outcome: 'refused' });
      expect(await redemptions.byReference(ctx, 'cli_medium', 'd-2')).toBeNull();
    }));

  it("debits by payment code in the same statement: the code spent with the debit only, and the fraud rule's count", () =>
    db.rolledBack(async (ctx) => {
      const { serial, enterpriseId } = await insertCard(db.connection, ctx, { clientId: 'cli_medium' });
      const keyNumber = 100_000_000 + Number.parseInt(randomBytes(3).toString('hex'), 16);
      expect(
        await redemptions.insertPaymentCodeKey(ctx, {
          number: keyNumber,
          clientId: 'cli_medium',
          holderRef: 'holder',
          serial,
          secretSealed: 'v2.k.sealed',
        }),
      ).toBe(true);
      const debit = (amount: number, reference: string, uses: number, refuseFrom: number | null = null) => {
        const statement = debitOf({ serial, enterpriseId }, amount, reference);
        statement.paymentCode = { keyNumber, uses, clientId: 'cli_medium' };
        statement.recentDebits = { windowSeconds: 60, refuseFrom };
        return redemptions.debitBySerial(ctx, statement);
      };
      const uses = async () => (await redemptions.paymentCodeKey(ctx, keyNumber))!.uses;

      expect(await debit(1_000, 'c-1', 0)).toMatchObject({ outcome: 'debited', balance: 9_000, recentDebits: 0 });
      expect(await uses()).toBe(1);
      // The same code again: the key's count moved on, the card is left alone.
      expect(await debit(1_000, 'c-2', 0)).toEqual({ outcome: 'refused' });
      // A debit the card refuses (balance) does not spend the code.
      expect(await debit(50_000, 'c-3', 1)).toEqual({ outcome: 'refused' });
      expect(await uses()).toBe(1);
      expect(await debit(1_000, 'c-4', 1)).toMatchObject({ outcome: 'debited', balance: 8_000, recentDebits: 1 });
      // A fraud rule blocking from two recent debits: refused, the code kept.
      expect(await debit(1_000, 'c-5', 2, 2)).toEqual({ outcome: 'refused' });
      expect(await uses()).toBe(2);
      // Another channel's key does not pay.
      const foreign = await redemptions.insertPaymentCodeKey(ctx, {
        number: keyNumber + 1,
        clientId: 'cli_other',
        holderRef: 'holder',
        serial: null,
        secretSealed: 'v2.k.sealed',
      });
      expect(foreign).toBe(true);
      expect(
        await redemptions.spendPaymentCode(ctx, { keyNumber: keyNumber + 1, uses: 0, clientId: 'cli_medium' }),
      ).toBe(false);
      expect(
        await redemptions.spendPaymentCode(ctx, { keyNumber: keyNumber + 1, uses: 0, clientId: 'cli_other' }),
      ).toBe(true);
      expect(
        await redemptions.spendPaymentCode(ctx, { keyNumber: keyNumber + 1, uses: 0, clientId: 'cli_other' }),
      ).toBe(false);
    }));

  it("counts the card's end-user IPs and its subnets away from the bind's in the debit's statement, and blocks on them", () =>
    db.rolledBack(async (ctx) => {
      const { serial, enterpriseId } = await insertCard(db.connection, ctx, { clientId: 'cli_medium' });
      // The card's bind, from 198.51.100.0/24 (a fixture: the bind statement is the cards module's, tested apart).
      await db.connection.query(
        ctx,
        `INSERT INTO card_transactions
           (serial, enterprise_id, kind, amount, balance_after, holder_ref, client_id, end_user_ip)
         VALUES ($1, $2, 'bind', 0, 10000, 'holder', 'cli_medium', '198.51.100.7')`,
        [serial, enterpriseId],
      );
      const debit = (reference: string, ip: string, refuse: { ips?: number; subnets?: number } = {}) => {
        const statement = debitOf({ serial, enterpriseId }, 100, reference, ip);
        statement.endUserIps = {
          ip,
          ipsWindowSeconds: 3_600,
          subnetsWindowSeconds: 86_400,
          refuseIpsFrom: refuse.ips ?? null,
          refuseSubnetsFrom: refuse.subnets ?? null,
        };
        return redemptions.debitBySerial(ctx, statement);
      };
      // The bind's /24 is home; each IP counts once; this debit's own IP is counted.
      expect(await debit('ip-1', '198.51.100.200')).toMatchObject({ endUserIps: 2, awaySubnets: 0 });
      expect(await debit('ip-2', '198.51.100.200')).toMatchObject({ endUserIps: 2, awaySubnets: 0 });
      expect(await debit('ip-3', '203.0.113.5')).toMatchObject({ endUserIps: 3, awaySubnets: 1 });
      expect(await debit('ip-4', '203.0.113.6')).toMatchObject({ endUserIps: 4, awaySubnets: 1 });
      // IPv6 by /48: two addresses of one /48 are one network away.
      expect(await debit('ip-5', '2001:db8:1::1')).toMatchObject({ endUserIps: 5, awaySubnets: 2 });
      expect(await debit('ip-6', '2001:db8:1:ffff::2')).toMatchObject({ endUserIps: 6, awaySubnets: 2 });
      // A block at 7 IPs, or at 3 networks: a new address is refused (nothing written), a known one pays.
      expect(await debit('ip-7', '192.0.2.1', { ips: 7 })).toEqual({ outcome: 'refused' });
      expect(await debit('ip-8', '192.0.2.1', { subnets: 3 })).toEqual({ outcome: 'refused' });
      expect(await debit('ip-9', '203.0.113.6', { ips: 7, subnets: 3 })).toMatchObject({
        outcome: 'debited',
        balance: 9_300,
        endUserIps: 6,
        awaySubnets: 2,
      });
      const stored = await db.connection.query<Array<{ ip: string }>>(
        ctx,
        "SELECT host(end_user_ip) AS ip FROM card_transactions WHERE serial = $1 AND kind = 'debit' ORDER BY id",
        [serial],
      );
      expect(stored.map((row) => row.ip)).toEqual([
        '198.51.100.200',
        '198.51.100.200',
        '203.0.113.5',
        '203.0.113.6',
        '2001:db8:1::1',
        '2001:db8:1:ffff::2',
        '203.0.113.6',
      ]);
    }));

  it('counts failures in a window and blocks a key at its limit, once', () =>
    db.rolledBack(async (ctx) => {
      const key = `medium:${randomBytes(6).toString('hex')}`;
      expect(await redemptions.countFailure(ctx, key, 2, 60_000, 60_000)).toEqual({ failures: 1, newlyBlocked: false });
      expect(await redemptions.blockedForMs(ctx, [key])).toBe(0);
      expect(await redemptions.countFailure(ctx, key, 2, 60_000, 60_000)).toEqual({ failures: 2, newlyBlocked: true });
      // (newlyBlocked of a later failure is only meaningful in a transaction of its own: now() is the transaction's.)
      expect((await redemptions.countFailure(ctx, key, 2, 60_000, 60_000)).failures).toBe(3);
      expect(await redemptions.blockedForMs(ctx, [key])).toBeGreaterThan(0);
    }));
});

/** AuditService as the fragment needs it: the signing key only (appendSql sends nothing). */
function auditSigningOnly(config: AppConfig): AuditService {
  return new AuditService(
    undefined as unknown as TransactionService,
    undefined as unknown as AuditRepository,
    config,
    undefined as unknown as QueueService,
  );
}
