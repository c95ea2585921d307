import { SmsSender, type OutgoingSms } from '../src/distribution/channels/sms.sender';
import { paymentCodeStep } from '../src/redemption/payment-code';
import { startTestApp, type TestApp } from './support/app';
import type { CardWithSecret } from './support/cards';
import {
  insertClaimRecipient,
  issuedOrderWithCards,
  plainCode,
  recipientRow,
  type ClaimFixture,
} from './support/claims';
import { createClient } from './support/fixtures';
import { decodeQrSvg } from './support/qr';

const PUBLIC_URL = 'https://claim.fuli.test';
const SAME_ORIGIN = { origin: PUBLIC_URL };

/**
 * The claim page end to end (README, "The claim page"): the HTML and its headers, 404/410 links, views and reveals
 * recorded with their events and audit records, the reveal limit, the SMS one-time code of registered cards, and
 * "add to my account" through a redemption channel's ticket.
 */
describe('claim page', () => {
  let app: TestApp;
  let enterprise: { id: string; name: string };
  let orderId: string;
  let cards: CardWithSecret[];
  let next = 0;
  const sms: OutgoingSms[] = [];
  const card = () => cards[next++];

  const claim = (input: Partial<Parameters<typeof insertClaimRecipient>[1]> = {}) =>
    insertClaimRecipient(app, { enterpriseId: enterprise.id, orderId, card: card(), ...input });
  const reveal = (fixture: ClaimFixture, body: object = {}, headers: Record<string, string> = SAME_ORIGIN) =>
    app.http.post(`/claim/${fixture.token}/reveal`).set(headers).send(body);
  const eventsOf = (serial: string, type: string) =>
    app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
      "SELECT data FROM events WHERE type = $1 AND data->>'serial' = $2",
      [type, serial],
    );
  const auditOf = (serial: string, action: string) =>
    app.dataSource.query<Array<{ data: unknown; actor_client_id: string | null }>>(
      'SELECT data, actor_client_id FROM audit_records WHERE action = $1 AND object_id = $2 ORDER BY seq',
      [action, serial],
    );

  beforeAll(async () => {
    app = await startTestApp({
      ISSUANCE_CHUNK_SIZE: '100',
      RATE_LIMIT_REQUESTS: '100000',
      PUBLIC_URL,
      CLAIM_REVEAL_LIMIT: '3',
    });
    const issued = await issuedOrderWithCards(app, 16);
    enterprise = issued.enterprise;
    orderId = issued.order.id;
    cards = issued.cards;
    // The fake SMS provider: records what would be sent (the real adapter is the channels part's).
    jest.spyOn(app.app.get(SmsSender), 'send').mockImplementation((message: OutgoingSms) => {
      sms.push(message);
      return Promise.resolve({ ok: true, providerMessageId: `fake-${sms.length}` });
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('renders the card with strict headers, escapes what it shows, and holds no code', async () => {
    const greeting = `<script>alert("x")</script> & 'welcome'`;
    const fixture = await claim({ greeting });
    const serial = cards[next - 1].serial;
    const page = await app.http.get(`/claim/${fixture.token}`).expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['x-robots-tag']).toMatch(/noindex/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    const csp = page.headers['content-security-policy'];
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    // Every executable script carries the nonce; the data block is not executable.
    const scripts = [...page.text.matchAll(/<script([^>]*)>/g)].map((match) => match[1]);
    expect(scripts).toHaveLength(2);
    for (const attributes of scripts) {
      expect(attributes.includes(`nonce="${nonce}"`) || attributes.includes('type="application/json"')).toBe(true);
    }
    expect(page.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;welcome&#39;');
    expect(page.text).not.toContain('<script>alert');
    expect(page.text).toContain('100.00');
    expect(page.text).toContain(`来自 ${enterprise.name}`);
    expect(page.text).toContain('lang="zh-CN"');
    expect(page.text).toContain('/claim/assets/classic.svg');
    expect(page.text).not.toContain(fixture.token);
    const secret = cards.find((candidate) => candidate.serial === serial)!;
    expect(page.text).not.toContain(secret.code);
    expect(page.text).not.toContain(secret.pin);

    const english = await app.http.get(`/claim/${fixture.token}?lang=en`).expect(200);
    expect(english.text).toContain('lang="en"');
    expect(english.text).toContain(`From ${enterprise.name}`);
    const preferred = await app.http.get(`/claim/${fixture.token}`).set('accept-language', 'en-US,en;q=0.9,zh;q=0.5');
    expect(preferred.text).toContain('lang="en"');

    const asset = await app.http.get('/claim/assets/spring_festival.svg').expect(200);
    expect(asset.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(asset.headers['cache-control']).toBe('public, max-age=86400');
    await app.http.get('/claim/assets/nope.svg').expect(404);
  });

  it('records views: the first moves sent → viewed with card.viewed and an audit record, every one is counted', async () => {
    const fixture = await claim();
    const serial = cards[next - 1].serial;
    // A HEAD (a link checker) is no view.
    await app.http.head(`/claim/${fixture.token}`).expect(200);
    expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ status: 'sent', view_count: 0 });
    await app.http.get(`/claim/${fixture.token}`).expect(200);
    expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ status: 'viewed', view_count: 1 });
    await app.http.get(`/claim/${fixture.token}`).expect(200);
    expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ status: 'viewed', view_count: 2 });
    const viewed = await eventsOf(serial, 'card.viewed');
    expect(viewed).toHaveLength(1);
    expect(viewed[0].data).toMatchObject({ serial, recipient_id: fixture.recipientId, status: 'viewed' });
    expect(JSON.stringify(viewed[0].data)).not.toContain(fixture.token);
    expect(await auditOf(serial, 'card.viewed')).toHaveLength(1);
  });

  it('answers unknown and malformed links 404, revoked and expired ones 410, as pages', async () => {
    const malformed = await app.http.get('/claim/not-a-token').expect(404);
    expect(malformed.headers['content-type']).toMatch(/^text\/html/);
    expect(malformed.text).toContain('data-kind="not_found"');
    await app.http.get(`/claim/${'A'.repeat(43)}`).expect(404);
    const revoked = await claim({ status: 'revoked' });
    const gone = await app.http.get(`/claim/${revoked.token}?lang=en`).expect(410);
    expect(gone.text).toContain('data-kind="revoked"');
    expect(gone.text).toContain('revoked');
    const expired = await claim({ expiresAt: new Date(Date.now() - 1000) });
    expect((await app.http.get(`/claim/${expired.token}`).expect(410)).text).toContain('data-kind="expired"');
    // Nothing was counted on a dead link.
    expect(await recipientRow(app, expired.recipientId)).toMatchObject({ status: 'sent', view_count: 0 });
  });

  it('reveals the code to same-origin requests only: the first claims the card, each is audited without the code, up to the limit', async () => {
    const fixture = await claim();
    const secret = cards[next - 1];
    expect((await reveal(fixture, {}, {}).expect(403)).body.code).toBe('cross_origin_request');
    await reveal(fixture, {}, { origin: 'https://evil.example' }).expect(403);
    await reveal(fixture, {}, { 'sec-fetch-site': 'cross-site', origin: PUBLIC_URL }).expect(403);
    expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ reveal_count: 0 });

    const first = await reveal(fixture).expect(200);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.body).toMatchObject({ serial: secret.serial, pin: secret.pin, face_value: 10_000, reveals_left: 2 });
    expect(plainCode(first.body.code)).toBe(secret.code);
    expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ status: 'claimed', reveal_count: 1 });
    await reveal(fixture, {}, { 'sec-fetch-site': 'same-origin' }).expect(200);
    expect((await reveal(fixture).expect(200)).body.reveals_left).toBe(0);
    expect((await reveal(fixture).expect(429)).body.code).toBe('reveal_limit_reached');
    expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ status: 'claimed', reveal_count: 3 });

    expect(await eventsOf(secret.serial, 'card.claimed')).toHaveLength(1);
    const audits = await auditOf(secret.serial, 'card.revealed');
    expect(audits).toHaveLength(3);
    for (const audit of audits) {
      const text = JSON.stringify(audit.data);
      expect(text).not.toContain(secret.code);
      expect(text).not.toContain(secret.pin);
      expect(text).toContain(secret.serial);
    }
    // The page after a claim offers the code again.
    expect((await app.http.get(`/claim/${fixture.token}?lang=en`).expect(200)).text).toContain('0 more views left');
  });

  it('refuses a reveal after expiry or revocation, and when the card secret was purged', async () => {
    const fixture = await claim();
    await reveal(fixture).expect(200);
    await app.dataSource.query(
      "UPDATE distribution_recipients SET claim_expires_at = now() - interval '1 second' WHERE id = $1",
      [fixture.recipientId],
    );
    expect((await reveal(fixture).expect(410)).body.code).toBe('claim_link_expired');

    const revoked = await claim({ status: 'revoked' });
    expect((await reveal(revoked).expect(410)).body.code).toBe('claim_link_revoked');
    expect((await reveal({ ...revoked, token: 'x'.repeat(43) }).expect(404)).body.code).toBe('claim_link_not_found');

    const purged = await claim();
    await app.dataSource.query('UPDATE cards SET secret_ciphertext = NULL WHERE serial = $1', [cards[next - 1].serial]);
    expect((await reveal(purged).expect(410)).body.code).toBe('code_unavailable');
    expect(await recipientRow(app, purged.recipientId)).toMatchObject({ status: 'sent', reveal_count: 0 });

    const lapsed = await claim();
    await app.dataSource.query("UPDATE cards SET expires_at = now() - interval '1 minute' WHERE serial = $1", [
      cards[next - 1].serial,
    ]);
    const refused = await reveal(lapsed).expect(410);
    expect(refused.body).toMatchObject({ code: 'card_unavailable', card_status: 'expired' });
  });

  it('unlocks a registered card with an SMS one-time code: one per minute, five wrong tries lock it', async () => {
    const fixture = await claim({ mobile: '+8613812345678' });
    const secret = cards[next - 1];
    const page = await app.http.get(`/claim/${fixture.token}`).expect(200);
    expect(page.text).toContain('+86138****5678');
    expect(page.text).toContain('id="otp-send"');
    expect(page.text).not.toMatch(/<button[^>]*data-channel=/);

    expect((await reveal(fixture).expect(422)).body.code).toBe('otp_required');
    const otp = (headers = SAME_ORIGIN) => app.http.post(`/claim/${fixture.token}/otp`).set(headers).send({});
    await otp({} as typeof SAME_ORIGIN).expect(403);
    const sent = await otp().expect(200);
    expect(sent.body).toMatchObject({ mobile: '+86138****5678', expires_in: 300, resend_after: 60 });
    expect(sms).toHaveLength(1);
    expect(sms[0]).toMatchObject({ mobile: '+8613812345678', template: 'otp' });
    const [code, minutes] = sms[0].params;
    expect(code).toMatch(/^\d{6}$/);
    expect(minutes).toBe('5');
    const [stored] = await app.dataSource.query<Array<{ otp_hash: Buffer }>>(
      'SELECT otp_hash FROM distribution_recipients WHERE id = $1',
      [fixture.recipientId],
    );
    expect(stored.otp_hash.toString('hex')).not.toContain(Buffer.from(code).toString('hex'));
    const tooSoon = await otp().expect(429);
    expect(tooSoon.body.code).toBe('otp_too_soon');
    expect(Number(tooSoon.headers['retry-after'])).toBeGreaterThan(0);
    expect(sms).toHaveLength(1);

    const wrong = code === '000000' ? '000001' : '000000';
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect((await reveal(fixture, { otp: wrong }).expect(422)).body.code).toBe('otp_invalid');
    }
    expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ otp_failures: 5, reveal_count: 0 });
    expect((await reveal(fixture, { otp: code }).expect(429)).body.code).toBe('otp_locked');

    // A minute later a new code may be sent; it unlocks the reveal, once.
    await app.dataSource.query(
      "UPDATE distribution_recipients SET otp_expires_at = otp_expires_at - interval '61 seconds' WHERE id = $1",
      [fixture.recipientId],
    );
    await otp().expect(200);
    const fresh = sms[1].params[0];
    const revealed = await reveal(fixture, { otp: fresh }).expect(200);
    expect(plainCode(revealed.body.code)).toBe(secret.code);
    expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ status: 'claimed', otp_failures: 0 });
    expect((await reveal(fixture, { otp: fresh }).expect(422)).body.code).toBe('otp_invalid');

    const anonymous = await claim();
    expect((await app.http.post(`/claim/${anonymous.token}/otp`).set(SAME_ORIGIN).send({}).expect(409)).body.code).toBe(
      'otp_not_required',
    );
  });

  it('adds the card to an account at a redemption channel through a single-use ticket', async () => {
    const channel = await createClient(app, {
      scopes: ['redemptions:write'],
      name: 'Wallet',
      claim_bind_url: 'https://wallet.example/add?src=fuli',
    });
    expect((channel as unknown as { claim_bind_url: string }).claim_bind_url).toBe(
      'https://wallet.example/add?src=fuli',
    );
    const channelToken = await app.tokenFor(channel.id, channel.client_secret);
    const other = await createClient(app, { scopes: ['redemptions:write'], name: 'Other wallet' });
    const otherToken = await app.tokenFor(other.id, other.client_secret);

    const fixture = await claim();
    const secret = cards[next - 1];
    const page = await app.http.get(`/claim/${fixture.token}`).expect(200);
    expect(page.text).toContain(`data-channel="${channel.id}"`);
    expect(page.text).not.toContain(`data-channel="${other.id}"`);

    await app.http.post(`/claim/${fixture.token}/bind-ticket`).send({ channel: channel.id }).expect(403);
    expect(
      (
        await app.http
          .post(`/claim/${fixture.token}/bind-ticket`)
          .set(SAME_ORIGIN)
          .send({ channel: other.id })
          .expect(422)
      ).body.code,
    ).toBe('unknown_channel');
    const issued = await app.http
      .post(`/claim/${fixture.token}/bind-ticket`)
      .set(SAME_ORIGIN)
      .send({ channel: channel.id })
      .expect(200);
    const url = new URL(issued.body.url);
    expect(`${url.origin}${url.pathname}`).toBe('https://wallet.example/add');
    expect(url.searchParams.get('src')).toBe('fuli');
    const ticket = url.searchParams.get('ticket')!;
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const bind = (token: string, holder: string) =>
      app.http
        .post(`/v1/redemptions/claim-tickets/${ticket}/bind`)
        .auth(token, { type: 'bearer' })
        .send({ holder_ref: holder });
    expect((await bind(otherToken, 'bob').expect(404)).body.code).toBe('claim_ticket_not_found');
    const bound = await bind(channelToken, 'alice').expect(200);
    expect(bound.body).toMatchObject({
      object: 'claim_bind',
      serial: secret.serial,
      holder_ref: 'alice',
      balance: 10_000,
      status: 'active',
    });
    expect(JSON.stringify(bound.body)).not.toContain(secret.code);
    // A retry is answered the same; another holder is refused.
    await bind(channelToken, 'alice').expect(200);
    expect((await bind(channelToken, 'mallory').expect(409)).body.code).toBe('claim_ticket_used');

    const [row] = await app.dataSource.query<Array<{ status: string; holder_ref: string; bound_client_id: string }>>(
      'SELECT status, holder_ref, bound_client_id FROM cards WHERE serial = $1',
      [secret.serial],
    );
    expect(row).toEqual({ status: 'active', holder_ref: 'alice', bound_client_id: channel.id });
    expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ status: 'bound' });
    const events = await eventsOf(secret.serial, 'card.bound');
    expect(events).toHaveLength(1);
    expect(events[0].data).toMatchObject({ recipient_id: fixture.recipientId, holder_ref: 'alice' });
    // The channel can spend it like any card it bound.
    await app.http
      .post('/v1/redemptions/debit')
      .auth(channelToken, { type: 'bearer' })
      .send({ serial: secret.serial, holder_ref: 'alice', amount: 100, reference: `claim-${Date.now()}` })
      .expect(200);

    // The page now says the card is in an account, and shows no reveal.
    const after = await app.http.get(`/claim/${fixture.token}`).expect(200);
    expect(after.text).toContain('id="bound"');
    expect(after.text).not.toContain('id="reveal"');
    expect((await reveal(fixture).expect(409)).body.code).toBe('card_already_bound');
  });
  describe('payment code of a card in an account', () => {
    let channelId: string;
    let channelToken: string;
    const paymentCode = (fixture: ClaimFixture, headers: Record<string, string> = SAME_ORIGIN) =>
      app.http.post(`/claim/${fixture.token}/payment-code`).set(headers).send({});
    const pay = (code: string, amount: number, reference = `claim-pay-${Date.now()}-${Math.random()}`) =>
      app.http
        .post('/v1/redemptions/debit')
        .auth(channelToken, { type: 'bearer' })
        .send({ payment_code: code, amount, reference });
    /** "Add to my account" on the page, redeemed by the channel for `holder`. */
    const addToAccount = async (fixture: ClaimFixture, holder: string) => {
      const issued = await app.http
        .post(`/claim/${fixture.token}/bind-ticket`)
        .set(SAME_ORIGIN)
        .send({ channel: channelId })
        .expect(200);
      const ticket = new URL(issued.body.url).searchParams.get('ticket')!;
      await app.http
        .post(`/v1/redemptions/claim-tickets/${ticket}/bind`)
        .auth(channelToken, { type: 'bearer' })
        .send({ holder_ref: holder })
        .expect(200);
    };
    const balanceOf = async (serial: string) =>
      Number(
        (
          await app.dataSource.query<Array<{ balance: string }>>(
            'SELECT balance::text AS balance FROM cards WHERE serial = $1',
            [serial],
          )
        )[0].balance,
      );

    beforeAll(async () => {
      const channel = await createClient(app, {
        scopes: ['redemptions:write'],
        name: 'Pay wallet',
        claim_bind_url: 'https://pay-wallet.example/add',
      });
      channelId = channel.id;
      channelToken = await app.tokenFor(channel.id, channel.client_secret);
    });

    it('is refused before the card is in an account, then shows a code and QR the POS debits, and a new code once spent', async () => {
      const fixture = await claim();
      const secret = cards[next - 1];
      expect((await app.http.get(`/claim/${fixture.token}`).expect(200)).text).not.toContain('id="pay"');
      expect((await paymentCode(fixture).expect(409)).body).toMatchObject({ code: 'card_not_bound' });
      expect((await paymentCode(fixture, {}).expect(403)).body.code).toBe('cross_origin_request');
      // Only POST: a GET would put the answer where caches and histories keep URLs.
      await app.http.get(`/claim/${fixture.token}/payment-code`).expect(404);

      await addToAccount(fixture, 'pay-alice');
      const page = await app.http.get(`/claim/${fixture.token}`).expect(200);
      expect(page.text).toContain('id="pay"');
      expect(page.text).toContain('id="payment-qr"');

      const shown = await paymentCode(fixture).expect(200);
      expect(shown.headers['cache-control']).toBe('no-store');
      expect(shown.headers['content-type']).toMatch(/^application\/json/);
      const first = shown.body as {
        code: string;
        code_grouped: string;
        qr_svg: string;
        window_seconds: number;
        refresh_in_ms: number;
        balance: number;
      };
      expect(first).toMatchObject({ object: 'claim_payment_code', window_seconds: 60, balance: 10_000 });
      expect(first.code).toMatch(/^68\d{16}$/);
      expect(first.code_grouped).toBe(first.code.replace(/^(\d{2})(\d{4})(\d{4})(\d{4})(\d{4})$/, '$1 $2 $3 $4 $5'));
      expect(first.refresh_in_ms).toBeGreaterThanOrEqual(0);
      expect(first.refresh_in_ms).toBeLessThanOrEqual(60_000);
      expect(first.qr_svg).toMatch(/^<svg /);
      expect(decodeQrSvg(first.qr_svg)).toBe(first.code);
      expect(JSON.stringify(first)).not.toContain(secret.code);

      // The channel's POS spends it like any payment code of the card; a replay is refused.
      const paid = await pay(first.code, 2_500).expect(200);
      expect(paid.body.cards).toEqual([
        { serial: secret.serial, amount: -2_500, balance_after: 7_500, status: 'active' },
      ]);
      expect(paid.body.holder_ref).toBe('pay-alice');
      expect((await pay(first.code, 100).expect(409)).body.code).toBe('payment_code_used');

      // The page's next code is a new one (the key's count of uses moved on, whatever the window) that pays too.
      const windowBefore = paymentCodeStep(Date.now(), 60);
      const second = (await paymentCode(fixture).expect(200)).body as { code: string; balance: number };
      expect(second.code).not.toBe(first.code);
      expect(second.balance).toBe(7_500);
      // Asked again before it is spent, in the same window: the same code.
      const again = (await paymentCode(fixture).expect(200)).body as { code: string };
      if (paymentCodeStep(Date.now(), 60) === windowBefore) expect(again.code).toBe(second.code);
      const secondCode = second.code;
      await pay(again.code, 7_500).expect(200);
      expect(await balanceOf(secret.serial)).toBe(0);

      // Used up: no code, and the page's script says why.
      expect((await paymentCode(fixture).expect(422)).body.code).toBe('card_has_no_value');
      // No code in any event or audit record of the card.
      const written = await app.dataSource.query<Array<{ text: string }>>(
        `SELECT data::text AS text FROM events WHERE data->>'serial' = $1
          UNION ALL SELECT data::text FROM audit_records WHERE object_id = $1`,
        [secret.serial],
      );
      expect(written.length).toBeGreaterThan(0);
      for (const { text } of written) {
        expect(text).not.toContain(first.code);
        expect(text).not.toContain(secondCode);
      }
    });

    it('shows the code of a card bound with its revealed code; refuses frozen, expired, registered cards and dead links', async () => {
      const fixture = await claim();
      const secret = cards[next - 1];
      await reveal(fixture).expect(200);
      await app.http
        .post('/v1/redemptions/bind')
        .auth(channelToken, { type: 'bearer' })
        .send({ code: secret.code, pin: secret.pin, holder_ref: 'pay-bob', reference: `claim-bind-${Date.now()}` })
        .expect(200);
      expect(await recipientRow(app, fixture.recipientId)).toMatchObject({ status: 'claimed' });
      expect((await app.http.get(`/claim/${fixture.token}?lang=en`).expect(200)).text).toContain('Payment code');
      const { code } = (await paymentCode(fixture).expect(200)).body as { code: string };

      await app.dataSource.query("UPDATE cards SET frozen_from = status, status = 'frozen' WHERE serial = $1", [
        secret.serial,
      ]);
      expect((await paymentCode(fixture).expect(409)).body.code).toBe('card_frozen');
      // A code shown before the freeze does not spend a frozen card (and stays unspent).
      expect((await pay(code, 100).expect(409)).body.code).toBe('card_frozen');
      await app.dataSource.query('UPDATE cards SET status = frozen_from, frozen_from = NULL WHERE serial = $1', [
        secret.serial,
      ]);
      await pay(code, 100).expect(200);

      await app.dataSource.query("UPDATE cards SET expires_at = now() - interval '1 minute' WHERE serial = $1", [
        secret.serial,
      ]);
      expect((await paymentCode(fixture).expect(422)).body.code).toBe('card_expired');
      await app.dataSource.query("UPDATE cards SET expires_at = now() + interval '1 year' WHERE serial = $1", [
        secret.serial,
      ]);
      await paymentCode(fixture).expect(200);

      // The link is the key: revoked, or replaced by a resend's new token, it shows no code.
      await app.dataSource.query("UPDATE distribution_recipients SET status = 'revoked' WHERE id = $1", [
        fixture.recipientId,
      ]);
      expect((await paymentCode(fixture).expect(410)).body.code).toBe('claim_link_revoked');
      await app.dataSource.query(
        "UPDATE distribution_recipients SET status = 'claimed', claim_token_hash = $2 WHERE id = $1",
        [fixture.recipientId, Buffer.alloc(32, 1)],
      );
      expect((await paymentCode(fixture).expect(404)).body.code).toBe('claim_link_not_found');
      expect((await paymentCode({ ...fixture, token: 'x' }).expect(404)).body.code).toBe('claim_link_not_found');

      // A registered card's link does not spend it: its holder pays from the account's app.
      const registered = await claim({ mobile: '+8613812345679' });
      const registeredCard = cards[next - 1];
      await app.dataSource.query(
        "UPDATE cards SET status = 'active', holder_ref = 'pay-carol', bound_client_id = $2 WHERE serial = $1",
        [registeredCard.serial, channelId],
      );
      expect((await app.http.get(`/claim/${registered.token}`).expect(200)).text).not.toContain('id="pay"');
      expect((await paymentCode(registered).expect(409)).body.code).toBe('payment_code_unavailable');
    });
  });
});
