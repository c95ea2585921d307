import { randomBytes, randomInt } from 'node:crypto';
import type { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { newClaimToken } from './claim-token';
import type { RecipientStatus } from './distribution.entity';
import { DistributionRepository } from './distribution.repository';

/** The claim section of DistributionRepository: lookups by token and ticket, and the conditional status moves. */
describe('DistributionRepository, claim page (medium)', () => {
  let db: MediumDatabase;
  let repository: DistributionRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new DistributionRepository(db.connection);
  });
  afterAll(() => db.close());

  async function recipient(ctx: RequestContext, status: RecipientStatus, fromName: string | null = null) {
    const enterpriseId = `ent_medium${randomBytes(6).toString('hex')}`;
    const distributionId = newId('distribution');
    const id = newId('distributionRecipient');
    const { token, hash } = newClaimToken();
    if (fromName) {
      await db.connection.query(ctx, 'INSERT INTO distribution_settings (enterprise_id, from_name) VALUES ($1, $2)', [
        enterpriseId,
        fromName,
      ]);
    }
    await db.connection.query(
      ctx,
      `INSERT INTO distributions (id, enterprise_id, order_id, status, send_at, recipient_count, created_by_client_id)
       VALUES ($1, $2, 'ord_medium', 'sending', now(), 1, 'cli_medium')`,
      [distributionId, enterpriseId],
    );
    await db.connection.query(
      ctx,
      `INSERT INTO distribution_recipients (id, distribution_id, enterprise_id, row_number, employee_ref, channel, design,
         face_value, card_serial, status, claim_token_hash, claim_expires_at)
       VALUES ($1, $2, $3, 1, 'E1', 'link', 'classic', 10000, $4, $5, $6, now() + interval '1 day')`,
      [id, distributionId, enterpriseId, 800_000_000_000 + randomInt(1, 99_000_000_000), status, hash],
    );
    return { id, token, hash };
  }

  it('finds a recipient by its token hash with the sender name, and nothing by another hash', async () => {
    await db.rolledBack(async (ctx) => {
      const { id, hash } = await recipient(ctx, 'sent', 'Acme HR');
      const found = await repository.claimRecipientByTokenHash(ctx, hash, true);
      expect(found).toMatchObject({ id, status: 'sent', fromName: 'Acme HR', faceValue: 10_000, revealCount: 0 });
      expect(await repository.claimRecipientByTokenHash(ctx, newClaimToken().hash)).toBeNull();
    });
  });

  it('moves to viewed only from sent or delivered, counting every view', async () => {
    await db.rolledBack(async (ctx) => {
      const sent = await recipient(ctx, 'sent');
      expect(await repository.recordClaimView(ctx, sent.id)).toBe(true);
      expect(await repository.recordClaimView(ctx, sent.id)).toBe(false);
      expect(await repository.claimRecipientByTokenHash(ctx, sent.hash)).toMatchObject({
        status: 'viewed',
        viewCount: 2,
      });
      const claimed = await recipient(ctx, 'claimed');
      expect(await repository.recordClaimView(ctx, claimed.id)).toBe(false);
      expect(await repository.claimRecipientByTokenHash(ctx, claimed.hash)).toMatchObject({ status: 'claimed' });
    });
  });

  it('claims on the first reveal, counts each one up to the limit, and never reveals for a revoked recipient', async () => {
    await db.rolledBack(async (ctx) => {
      const viewed = await recipient(ctx, 'viewed');
      await repository.storeClaimOtp(ctx, viewed.id, randomBytes(32), new Date(Date.now() + 60_000));
      expect(await repository.recordClaimReveal(ctx, viewed.id, 2)).toEqual({ claimed: true, revealCount: 1 });
      const after = await repository.claimRecipientByTokenHash(ctx, viewed.hash);
      expect(after).toMatchObject({ status: 'claimed', otpHash: null, otpExpiresAt: null });
      expect(await repository.recordClaimReveal(ctx, viewed.id, 2)).toEqual({ claimed: false, revealCount: 2 });
      expect(await repository.recordClaimReveal(ctx, viewed.id, 2)).toBeNull();
      const revoked = await recipient(ctx, 'revoked');
      expect(await repository.recordClaimReveal(ctx, revoked.id, 2)).toBeNull();
    });
  });

  it('counts wrong one-time codes, and a new code starts the count again', async () => {
    await db.rolledBack(async (ctx) => {
      const { id } = await recipient(ctx, 'sent');
      const hash = randomBytes(32);
      await repository.storeClaimOtp(ctx, id, hash, new Date(Date.now() + 60_000));
      expect(await repository.countClaimOtpFailure(ctx, id)).toBe(1);
      expect(await repository.countClaimOtpFailure(ctx, id)).toBe(2);
      await repository.clearClaimOtp(ctx, id, randomBytes(32));
      await repository.storeClaimOtp(ctx, id, hash, new Date(Date.now() + 60_000));
      expect(await repository.countClaimOtpFailure(ctx, id)).toBe(1);
      const message = await repository.insertClaimOtpMessage(ctx, id);
      await repository.finishClaimOtpMessage(ctx, message, { status: 'sent', providerMessageId: 'p-1' });
      expect(await repository.countClaimOtpMessages(ctx, id)).toBe(1);
    });
  });

  it('binds through a ticket from viewed or claimed, not from revoked', async () => {
    await db.rolledBack(async (ctx) => {
      const viewed = await recipient(ctx, 'viewed');
      const ticket = randomBytes(32);
      await repository.storeClaimBindTicket(ctx, viewed.id, {
        hash: ticket,
        clientId: 'cli_channel',
        expiresAt: new Date(Date.now() + 600_000),
      });
      expect(await repository.claimRecipientByBindTicket(ctx, ticket, true)).toMatchObject({
        id: viewed.id,
        bindTicketClientId: 'cli_channel',
      });
      expect(await repository.markClaimBound(ctx, viewed.id, { clientId: 'cli_channel', holderRef: 'alice' })).toBe(
        true,
      );
      const bound = await repository.claimRecipientByTokenHash(ctx, viewed.hash);
      expect(bound).toMatchObject({ status: 'bound', holderRef: 'alice', channelClientId: 'cli_channel' });
      expect(bound!.bindTicketExpiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
      expect(await repository.markClaimBound(ctx, viewed.id, { clientId: 'cli_channel', holderRef: 'alice' })).toBe(
        false,
      );
      const revoked = await recipient(ctx, 'revoked');
      expect(await repository.markClaimBound(ctx, revoked.id, { clientId: 'cli_channel', holderRef: 'bob' })).toBe(
        false,
      );
    });
  });

  it("counts the claim fraud rules' figures: a link's reveals and wrong codes, the links one IP revealed", async () => {
    await db.rolledBack(async (ctx) => {
      const enterpriseId = `ent_medium${randomBytes(6).toString('hex')}`;
      const [a, b, c] = [
        newId('distributionRecipient'),
        newId('distributionRecipient'),
        newId('distributionRecipient'),
      ];
      const record = (
        recipientId: string,
        kind: 'reveal' | 'otp_failure',
        ip: string | null,
        enterprise = enterpriseId,
      ) => repository.recordClaimAction(ctx, { recipientId, enterpriseId: enterprise, kind, endUserIp: ip });
      await record(a, 'reveal', '198.51.100.1');
      await record(a, 'reveal', '198.51.100.1');
      await record(b, 'reveal', '198.51.100.1');
      await record(a, 'otp_failure', '198.51.100.1');
      await record(c, 'reveal', '198.51.100.2');
      // Another enterprise's link from the same address is not this enterprise's figure.
      await record(
        newId('distributionRecipient'),
        'reveal',
        '198.51.100.1',
        `ent_medium${randomBytes(6).toString('hex')}`,
      );
      const windows = { revealsWindowS: 3_600, linksWindowS: 3_600, otpWindowS: 86_400 };
      const figures = (recipientId: string, endUserIp: string | null) =>
        repository.claimRiskFigures(ctx, { recipientId, enterpriseId, endUserIp }, windows);
      expect(await figures(a, '198.51.100.1')).toEqual({ linkReveals: 2, otpFailures: 1, ipLinks: 2 });
      // A third link revealed from that address counts itself.
      expect(await figures(c, '198.51.100.1')).toEqual({ linkReveals: 1, otpFailures: 0, ipLinks: 3 });
      expect(await figures(a, null)).toEqual({ linkReveals: 2, otpFailures: 1, ipLinks: null });
      // Out of the window: not counted.
      await db.connection.query(
        ctx,
        "UPDATE claim_actions SET created_at = now() - interval '2 hours' WHERE recipient_id = $1 AND kind = 'reveal'",
        [a],
      );
      expect(await figures(a, '198.51.100.1')).toEqual({ linkReveals: 0, otpFailures: 1, ipLinks: 2 });
    });
  });
});
