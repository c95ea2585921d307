import { randomBytes } from 'node:crypto';
import { SmsSender, type OutgoingSms } from '../src/distribution/channels/sms.sender';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued, type CardWithSecret } from './support/cards';
import { insertClaimRecipient, issuedOrderWithCards, recipientRow, type ClaimFixture } from './support/claims';
import { createProduct, placePaidOrder } from './support/fixtures';
import { riskCalls } from './support/risk';

const PUBLIC_URL = 'https://claim.fuli.test';

/**
 * The fraud rules on end-user IPs, on holder-wide debits and on the claim page (README, "Fraud monitoring"; decision
 * 0010): the end user's IP is stored on bind and debit movements; each rule fires at its threshold and not below,
 * with its action (flag: an alert; hold: the card frozen, reason risk; block: 403 risk_blocked, nothing written).
 */
describe('fraud monitoring: end-user IPs, holder-wide debits, claim page', () => {
  let app: TestApp;
  let operator: string;
  let cards: CardWithSecret[];
  let nextCard = 0;
  const takeCard = () => cards[nextCard++];
  const sms: OutgoingSms[] = [];
  const { nextRef, post, channel, bind, debit, holderDebit, setRules, alerts, status } = riskCalls(
    () => app,
    () => operator,
    'rip',
  );
  const movements = (serial: string) =>
    app.dataSource.query<Array<{ kind: string; end_user_ip: string | null }>>(
      "SELECT kind, host(end_user_ip) AS end_user_ip FROM card_transactions WHERE serial = $1 AND kind IN ('bind', 'debit') ORDER BY id",
      [serial],
    );

  beforeAll(async () => {
    // The claim page's visitor address comes from X-Forwarded-For through a trusted (loopback) proxy.
    app = await startTestApp({
      ISSUANCE_CHUNK_SIZE: '100',
      RATE_LIMIT_REQUESTS: '100000',
      PUBLIC_URL,
      TRUST_PROXY: 'loopback',
      CLAIM_REVEAL_LIMIT: '5',
    });
    operator = await app.operatorToken();
    const product = await createProduct(app);
    const placed = await placePaidOrder(app, `RIP-${randomBytes(4).toString('hex')}`, [
      { product_id: product.id, face_value: 10_000, quantity: 20 },
    ]);
    await waitForIssued(app, placed.order.id);
    cards = await cardsWithSecrets(app, placed.order.id);
    jest.spyOn(app.app.get(SmsSender), 'send').mockImplementation((message: OutgoingSms) => {
      sms.push(message);
      return Promise.resolve({ ok: true, providerMessageId: `fake-${sms.length}` });
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  describe('end-user IPs on movements', () => {
    it("stores the end user's IP of binds and debits (body or X-End-User-IP), none when the channel sends none", async () => {
      const shop = await channel('ip recorder');
      const [card, quiet] = [takeCard(), takeCard()];
      await post(shop.token, '/v1/redemptions/bind', {
        code: card.code,
        pin: card.pin,
        holder_ref: 'recorded',
        reference: nextRef(),
      })
        .set('X-End-User-IP', '198.51.100.7')
        .expect(200);
      await debit(shop.token, card, 'recorded', { ip: '2001:DB8::7' }).expect(200);
      await post(shop.token, '/v1/redemptions/debit', {
        serial: card.serial,
        holder_ref: 'recorded',
        amount: 100,
        reference: nextRef(),
      })
        .set('X-End-User-IP', '198.51.100.8')
        .expect(200);
      expect(await movements(card.serial)).toEqual([
        { kind: 'bind', end_user_ip: '198.51.100.7' },
        { kind: 'debit', end_user_ip: '2001:db8::7' },
        { kind: 'debit', end_user_ip: '198.51.100.8' },
      ]);
      // A holder-wide debit records it on each card it spends.
      await bind(shop.token, quiet, 'quiet').expect(200);
      await holderDebit(shop.token, 'quiet', 100, { ip: '203.0.113.9' }).expect(200);
      await holderDebit(shop.token, 'quiet', 100).expect(200);
      expect(await movements(quiet.serial)).toEqual([
        { kind: 'bind', end_user_ip: null },
        { kind: 'debit', end_user_ip: '203.0.113.9' },
        { kind: 'debit', end_user_ip: null },
      ]);
      const invalid = await debit(shop.token, quiet, 'quiet', { ip: 'not-an-ip' }).expect(400);
      expect(invalid.body.code).toBe('validation_failed');
      // The defaults raise nothing on this.
      expect(await alerts({ client_id: shop.id })).toEqual([]);
    });
  });

  describe('distinct end-user IPs per card', () => {
    it('flags at the threshold and not below; a repeated IP is not counted twice; the alert names the IP', async () => {
      const shop = await channel('ip hopper (flag)');
      await setRules({
        client_id: shop.id,
        rules: [{ rule: 'end_user_ips_per_card_hour', threshold: 3, action: 'flag' }],
      }).expect(200);
      const card = takeCard();
      await bind(shop.token, card, 'hopper', { ip: '198.51.100.1' }).expect(200);
      await debit(shop.token, card, 'hopper', { ip: '198.51.100.2' }).expect(200);
      await debit(shop.token, card, 'hopper', { ip: '198.51.100.1' }).expect(200);
      await debit(shop.token, card, 'hopper').expect(200);
      expect(await alerts({ client_id: shop.id })).toEqual([]);
      await debit(shop.token, card, 'hopper', { ip: '198.51.100.3' }).expect(200);
      const [alert] = await alerts({ client_id: shop.id });
      expect(alert).toMatchObject({
        rule: 'end_user_ips_per_card_hour',
        action: 'flag',
        figures: { count: 3, threshold: 3, window_seconds: 3600 },
        serial: card.serial,
        holder_ref: 'hopper',
        end_user_ip: '198.51.100.3',
        recipient_id: null,
      });
      const [event] = await app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
        "SELECT data FROM events WHERE type = 'risk.alert' AND data ->> 'alert_id' = $1",
        [alert.id],
      );
      expect(event.data).toMatchObject({ rule: 'end_user_ips_per_card_hour', end_user_ip: '198.51.100.3' });
      expect(JSON.stringify(event.data)).not.toContain(card.code);
    });

    it('a block refuses the debit from one IP too many (403 risk_blocked, nothing written); known IPs still pay', async () => {
      const shop = await channel('ip hopper (block)');
      await setRules({
        client_id: shop.id,
        rules: [{ rule: 'end_user_ips_per_card_hour', threshold: 2, action: 'block' }],
      }).expect(200);
      const card = takeCard();
      await bind(shop.token, card, 'blocked', { ip: '198.51.100.1' }).expect(200);
      const refused = await debit(shop.token, card, 'blocked', { ip: '203.0.113.1' }).expect(403);
      expect(refused.body).toMatchObject({ code: 'risk_blocked', rule: 'end_user_ips_per_card_hour' });
      expect(await movements(card.serial)).toEqual([{ kind: 'bind', end_user_ip: '198.51.100.1' }]);
      await debit(shop.token, card, 'blocked', { ip: '198.51.100.1' }).expect(200);
      const [alert] = await alerts({ client_id: shop.id });
      expect(alert).toMatchObject({ action: 'block', figures: { count: 2, threshold: 2 }, end_user_ip: '203.0.113.1' });
    });

    it('on a bind too: a hold freezes the card bound from a new IP of its hour', async () => {
      const shop = await channel('ip hopper (bind)');
      await setRules({
        client_id: shop.id,
        rules: [{ rule: 'end_user_ips_per_card_hour', threshold: 1, action: 'hold' }],
      }).expect(200);
      const card = takeCard();
      await bind(shop.token, card, 'held', { ip: '198.51.100.1' }).expect(200);
      expect(await status(card.serial)).toBe('frozen');
      const [alert] = await alerts({ client_id: shop.id });
      expect(alert).toMatchObject({ rule: 'end_user_ips_per_card_hour', action: 'hold', figures: { count: 1 } });
    });
  });

  describe("subnets away from the bind's", () => {
    it("counts /24s (IPv6 /48s) other than the bind's; a hold freezes the card at the threshold", async () => {
      const shop = await channel('subnet jumper');
      await setRules({
        client_id: shop.id,
        rules: [{ rule: 'debit_subnets_away_from_bind', threshold: 2, action: 'hold' }],
      }).expect(200);
      const card = takeCard();
      await bind(shop.token, card, 'jumper', { ip: '198.51.100.7' }).expect(200);
      // The bind's own /24: not away.
      await debit(shop.token, card, 'jumper', { ip: '198.51.100.200' }).expect(200);
      await debit(shop.token, card, 'jumper', { ip: '203.0.113.5' }).expect(200);
      await debit(shop.token, card, 'jumper', { ip: '203.0.113.77' }).expect(200);
      const subnetAlerts = () => alerts({ client_id: shop.id, rule: 'debit_subnets_away_from_bind' });
      expect(await subnetAlerts()).toEqual([]);
      expect(await status(card.serial)).toBe('active');
      await debit(shop.token, card, 'jumper', { ip: '192.0.2.9' }).expect(200);
      const [alert] = await subnetAlerts();
      expect(alert).toMatchObject({
        rule: 'debit_subnets_away_from_bind',
        action: 'hold',
        figures: { count: 2, threshold: 2, window_seconds: 86400 },
        end_user_ip: '192.0.2.9',
      });
      expect(await status(card.serial)).toBe('frozen');
      const [frozen] = await app.dataSource.query<Array<{ data: { reason: string } }>>(
        "SELECT data FROM events WHERE type = 'card.frozen' AND data ->> 'serial' = $1",
        [card.serial],
      );
      expect(frozen.data.reason).toBe('risk');
    });

    it('IPv6: the same /48 is home, another /48 is away; a block refuses it', async () => {
      const shop = await channel('subnet jumper v6');
      await setRules({
        client_id: shop.id,
        rules: [{ rule: 'debit_subnets_away_from_bind', threshold: 1, action: 'block' }],
      }).expect(200);
      const card = takeCard();
      await bind(shop.token, card, 'six', { ip: '2001:db8:1::1' }).expect(200);
      await debit(shop.token, card, 'six', { ip: '2001:db8:1:ffff::2' }).expect(200);
      const refused = await debit(shop.token, card, 'six', { ip: '2001:db8:2::1' }).expect(403);
      expect(refused.body).toMatchObject({ code: 'risk_blocked', rule: 'debit_subnets_away_from_bind' });
      expect((await movements(card.serial)).map((movement) => movement.kind)).toEqual(['bind', 'debit']);
    });
  });

  describe('holder-wide debits', () => {
    it("count each spent card's debits: a block refuses the whole debit (403), nothing written", async () => {
      const shop = await channel('wallet spender (block)');
      await setRules({
        client_id: shop.id,
        rules: [{ rule: 'debits_per_card_minute', threshold: 2, action: 'block' }],
      }).expect(200);
      const card = takeCard();
      await bind(shop.token, card, 'wallet').expect(200);
      await holderDebit(shop.token, 'wallet', 100).expect(200);
      expect(await alerts({ client_id: shop.id })).toEqual([]);
      const refused = await holderDebit(shop.token, 'wallet', 100).expect(403);
      expect(refused.body).toMatchObject({ code: 'risk_blocked', rule: 'debits_per_card_minute' });
      const [row] = await app.dataSource.query<Array<{ balance: string; debits: number; redemptions: number }>>(
        `SELECT balance::text AS balance,
                (SELECT count(*)::int FROM card_transactions WHERE serial = $1 AND kind = 'debit') AS debits,
                (SELECT count(*)::int FROM redemptions WHERE client_id = $2 AND kind = 'debit') AS redemptions
         FROM cards WHERE serial = $1`,
        [card.serial, shop.id],
      );
      expect(row).toEqual({ balance: '9900', debits: 1, redemptions: 1 });
      const [alert] = await alerts({ client_id: shop.id });
      expect(alert).toMatchObject({
        rule: 'debits_per_card_minute',
        action: 'block',
        serial: card.serial,
        holder_ref: 'wallet',
        figures: { count: 2, threshold: 2 },
      });
    });

    it('raise a flag per spent card and hold on the IP rules after the debit', async () => {
      const shop = await channel('wallet spender (flag, hold)');
      await setRules({
        client_id: shop.id,
        rules: [
          { rule: 'debits_per_card_minute', threshold: 1, action: 'flag' },
          { rule: 'debit_subnets_away_from_bind', threshold: 1, action: 'hold' },
        ],
      }).expect(200);
      const [first, second] = [takeCard(), takeCard()];
      await bind(shop.token, first, 'two-cards', { ip: '198.51.100.1' }).expect(200);
      await bind(shop.token, second, 'two-cards', { ip: '198.51.100.1' }).expect(200);
      // 150 CNY: both cards are spent.
      const spent = await holderDebit(shop.token, 'two-cards', 15_000, { ip: '203.0.113.1' }).expect(200);
      expect(spent.body.cards).toHaveLength(2);
      const raised = await alerts({ client_id: shop.id });
      const bySerial = (serial: string) =>
        raised
          .filter((alert) => alert.serial === serial)
          .map((alert) => `${alert.rule}:${alert.action}:${alert.figures.count}`)
          .sort();
      for (const card of [first, second]) {
        expect(bySerial(card.serial)).toEqual(['debit_subnets_away_from_bind:hold:1', 'debits_per_card_minute:flag:1']);
      }
      // The first card was spent to zero (exhausted, then frozen); the second is frozen with what is left.
      expect(await status(first.serial)).toBe('frozen');
      expect(await status(second.serial)).toBe('frozen');
    });
  });

  describe('claim page', () => {
    const SAME_ORIGIN = { origin: PUBLIC_URL };
    const reveal = (fixture: ClaimFixture, ip: string, body: object = {}) =>
      app.http
        .post(`/claim/${fixture.token}/reveal`)
        .set({ ...SAME_ORIGIN, 'x-forwarded-for': ip })
        .send(body);
    const enterpriseAlerts = (enterpriseId: string, rule: string) => alerts({ enterprise_id: enterpriseId, rule });

    it('reveals per link: a block refuses the reveal at the threshold; the alert names the recipient, never a code', async () => {
      const issued = await issuedOrderWithCards(app, 1);
      const enterpriseId = issued.enterprise.id;
      await setRules({
        enterprise_id: enterpriseId,
        rules: [{ rule: 'claim_reveals_per_link_hour', threshold: 3, action: 'block' }],
      }).expect(200);
      const fixture = await insertClaimRecipient(app, {
        enterpriseId,
        orderId: issued.order.id,
        card: issued.cards[0],
      });
      await reveal(fixture, '198.51.100.20').expect(200);
      await reveal(fixture, '198.51.100.20').expect(200);
      expect(await enterpriseAlerts(enterpriseId, 'claim_reveals_per_link_hour')).toEqual([]);
      const refused = await reveal(fixture, '198.51.100.20').expect(403);
      expect(refused.body).toMatchObject({ code: 'risk_blocked', rule: 'claim_reveals_per_link_hour' });
      expect(JSON.stringify(refused.body)).not.toContain(issued.cards[0].pin);
      expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ reveal_count: 2 });
      const [alert] = await enterpriseAlerts(enterpriseId, 'claim_reveals_per_link_hour');
      expect(alert).toMatchObject({
        action: 'block',
        figures: { count: 3, threshold: 3, window_seconds: 3600 },
        serial: issued.cards[0].serial,
        recipient_id: fixture.recipientId,
        end_user_ip: '198.51.100.20',
        client_id: null,
        holder_ref: null,
      });
      const everything = JSON.stringify(
        await app.dataSource.query("SELECT data FROM events WHERE type = 'risk.alert' AND data ->> 'alert_id' = $1", [
          alert.id,
        ]),
      );
      for (const secret of [issued.cards[0].code, issued.cards[0].pin, fixture.token]) {
        expect(everything).not.toContain(secret);
      }
      // The page has words for it.
      const page = await app.http.get(`/claim/${fixture.token}?lang=en`).expect(200);
      expect(page.text).toContain('For your security the code cannot be shown from here right now');
    });

    it("links per IP across an enterprise's links: a hold freezes the card at the threshold, not below", async () => {
      const issued = await issuedOrderWithCards(app, 4);
      const enterpriseId = issued.enterprise.id;
      await setRules({
        enterprise_id: enterpriseId,
        rules: [{ rule: 'claim_links_per_ip_hour', threshold: 3, action: 'hold' }],
      }).expect(200);
      const links = await Promise.all(
        issued.cards.map((card, index) =>
          insertClaimRecipient(app, {
            enterpriseId,
            orderId: issued.order.id,
            card,
            employeeRef: `E${index}`,
          }),
        ),
      );
      await reveal(links[0], '203.0.113.50').expect(200);
      await reveal(links[0], '203.0.113.50').expect(200);
      await reveal(links[1], '203.0.113.50').expect(200);
      // Another address revealing another link is another visitor.
      await reveal(links[3], '198.51.100.99').expect(200);
      expect(await enterpriseAlerts(enterpriseId, 'claim_links_per_ip_hour')).toEqual([]);
      // A hold reveals (the card is frozen: spent nowhere until the enterprise has looked).
      await reveal(links[2], '203.0.113.50').expect(200);
      const [alert] = await enterpriseAlerts(enterpriseId, 'claim_links_per_ip_hour');
      expect(alert).toMatchObject({
        action: 'hold',
        figures: { count: 3, threshold: 3 },
        serial: issued.cards[2].serial,
        recipient_id: links[2].recipientId,
        end_user_ip: '203.0.113.50',
      });
      expect(await status(issued.cards[2].serial)).toBe('frozen');
      expect(await status(issued.cards[1].serial)).not.toBe('frozen');
    });

    it('wrong one-time codes per link: a block refuses at the threshold, and the link stays refused', async () => {
      const issued = await issuedOrderWithCards(app, 1);
      const enterpriseId = issued.enterprise.id;
      await setRules({
        enterprise_id: enterpriseId,
        rules: [{ rule: 'claim_otp_failures_per_link_day', threshold: 2, action: 'block' }],
      }).expect(200);
      const fixture = await insertClaimRecipient(app, {
        enterpriseId,
        orderId: issued.order.id,
        card: issued.cards[0],
        mobile: '+8613812345678',
      });
      await app.http.post(`/claim/${fixture.token}/otp`).set(SAME_ORIGIN).send({}).expect(200);
      const code = sms[sms.length - 1].params[0];
      const wrong = code === '000000' ? '000001' : '000000';
      expect((await reveal(fixture, '198.51.100.30', { otp: wrong }).expect(422)).body.code).toBe('otp_invalid');
      expect(await enterpriseAlerts(enterpriseId, 'claim_otp_failures_per_link_day')).toEqual([]);
      const refused = await reveal(fixture, '198.51.100.30', { otp: wrong }).expect(403);
      expect(refused.body).toMatchObject({ code: 'risk_blocked', rule: 'claim_otp_failures_per_link_day' });
      // The right code now: still refused, nothing revealed.
      expect((await reveal(fixture, '198.51.100.30', { otp: code }).expect(403)).body.code).toBe('risk_blocked');
      expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ reveal_count: 0 });
      const raised = await enterpriseAlerts(enterpriseId, 'claim_otp_failures_per_link_day');
      expect(raised.map((alert) => [alert.action, alert.figures.count])).toEqual([
        ['block', 2],
        ['block', 2],
      ]);
    });

    it('flags and holds let the visitor through: a flag at the threshold, a hold freezing the card on a wrong code', async () => {
      const issued = await issuedOrderWithCards(app, 2);
      const enterpriseId = issued.enterprise.id;
      await setRules({
        enterprise_id: enterpriseId,
        rules: [
          { rule: 'claim_reveals_per_link_hour', threshold: 2, action: 'flag' },
          { rule: 'claim_otp_failures_per_link_day', threshold: 1, action: 'hold' },
        ],
      }).expect(200);
      const anonymous = await insertClaimRecipient(app, {
        enterpriseId,
        orderId: issued.order.id,
        card: issued.cards[0],
      });
      await reveal(anonymous, '198.51.100.40').expect(200);
      expect(await enterpriseAlerts(enterpriseId, 'claim_reveals_per_link_hour')).toEqual([]);
      await reveal(anonymous, '198.51.100.40').expect(200);
      expect(await enterpriseAlerts(enterpriseId, 'claim_reveals_per_link_hour')).toEqual([
        expect.objectContaining({ action: 'flag', figures: expect.objectContaining({ count: 2 }) }),
      ]);
      expect(await status(issued.cards[0].serial)).not.toBe('frozen');

      const registered = await insertClaimRecipient(app, {
        enterpriseId,
        orderId: issued.order.id,
        card: issued.cards[1],
        mobile: '+8613812345679',
      });
      await app.http.post(`/claim/${registered.token}/otp`).set(SAME_ORIGIN).send({}).expect(200);
      const code = sms[sms.length - 1].params[0];
      const wrong = code === '000000' ? '000001' : '000000';
      expect((await reveal(registered, '198.51.100.41', { otp: wrong }).expect(422)).body.code).toBe('otp_invalid');
      const [held] = await enterpriseAlerts(enterpriseId, 'claim_otp_failures_per_link_day');
      expect(held).toMatchObject({
        action: 'hold',
        figures: { count: 1, threshold: 1 },
        recipient_id: registered.recipientId,
        end_user_ip: '198.51.100.41',
      });
      expect(await status(issued.cards[1].serial)).toBe('frozen');
    });
  });
});
