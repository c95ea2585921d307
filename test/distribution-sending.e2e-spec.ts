import { randomBytes } from 'node:crypto';
import { claimTokenHash } from '../src/distribution/claim-token';
import { DistributionSenderService } from '../src/distribution/distribution-sender.service';
import { newId } from '../src/common/ids';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued, type CardWithSecret } from './support/cards';
import { startFakeTencentSms, type FakeTencentSms } from './support/fake-tencent-sms';
import { startSmtpSink, type ReceivedMail, type SmtpSink } from './support/smtp-sink';
import { createClient, createProduct, placePaidOrder } from './support/fixtures';
import { recordStatements } from './support/round-trips';

const RECEIPT_TOKEN = 'receipt-token-0123456789abcdef';
const TENCENT = { secretId: 'AKIDdistributiontest', secretKey: 'distribution-test-secret-key' };

interface NewRecipient {
  card: CardWithSecret;
  channel: 'email' | 'sms' | 'link' | 'account';
  email?: string;
  mobile?: string;
  holderRef?: string;
  channelClientId?: string;
}

/**
 * Sending a distribution (README, "Sending and statuses"): the send job's messages and statuses, retries, bounces,
 * SMS receipts, control (resend, change of contact, revoke, cancel), bulk binding through a channel, order
 * completion, and the batch's round trips. Recipients are written the way the creation part leaves them (rows
 * queued or scheduled; the job woken after commit); mail goes over SMTP to a real server (test/support/smtp-sink.ts)
 * and SMS to a fake of Tencent's API that checks the TC3 signature (test/support/fake-tencent-sms.ts).
 */
describe('distribution sending', () => {
  let app: TestApp;
  let sink: SmtpSink;
  let tencent: FakeTencentSms;
  /** RCPT TO refusals per address (4xx transient, 5xx permanent), and how many times each address was tried. */
  const refusals = new Map<string, { code: number; message: string }>();
  const tried = new Map<string, number>();
  let sender: DistributionSenderService;
  let product: { id: string };

  beforeAll(async () => {
    sink = await startSmtpSink({
      refuseRecipient: (address) => {
        tried.set(address, (tried.get(address) ?? 0) + 1);
        return refusals.get(address);
      },
    });
    tencent = await startFakeTencentSms(TENCENT);
    app = await startTestApp({
      SMTP_URL: sink.url,
      ...tencent.env(),
      RATE_LIMIT_REQUESTS: '100000',
      ISSUANCE_CHUNK_SIZE: '100',
      SMS_RECEIPT_TOKEN: RECEIPT_TOKEN,
      DISTRIBUTION_RETRY_SCHEDULE_SECONDS: '1,1',
      DISTRIBUTION_SWEEP_INTERVAL_SECONDS: '1',
      DISTRIBUTION_REMINDER_DAYS_BEFORE: '0',
    });
    sender = app.app.get(DistributionSenderService);
    product = await createProduct(app);
  });
  afterAll(async () => {
    await app?.close();
    await sink?.close();
    await tencent?.close();
  });

  const mailsTo = (address: string): ReceivedMail[] =>
    sink.messages.filter((mail) => mail.envelope.to.includes(address));
  const textOf = (mail: ReceivedMail) => `${mail.text ?? ''}\n${typeof mail.html === 'string' ? mail.html : ''}`;
  const smsTo = (mobile: string) =>
    tencent.requests
      .filter((request) => request.signatureValid && (request.body?.PhoneNumberSet as string[]).includes(mobile))
      .map((request) => ({
        sid: request.serialNos[mobile],
        templateId: request.body?.TemplateId as string,
        params: request.body?.TemplateParamSet as string[],
      }));

  /** A paid, issued order of `count` cards and a client of its enterprise with distributions:write. */
  async function issuedOrder(count: number) {
    const placed = await placePaidOrder(app, `DST-${randomBytes(4).toString('hex')}`, [
      { product_id: product.id, face_value: 10_000, quantity: count },
    ]);
    await waitForIssued(app, placed.order.id);
    const client = await createClient(app, { enterprise_id: placed.enterprise.id, scopes: ['distributions:write'] });
    return {
      enterpriseId: placed.enterprise.id,
      orderId: placed.order.id,
      token: await app.tokenFor(client.id, client.client_secret),
      cards: await cardsWithSecrets(app, placed.order.id),
    };
  }

  /** A distribution's rows as the creation part writes them; a sending one is woken as it would be after commit. */
  async function distribute(
    order: { enterpriseId: string; orderId: string },
    recipients: NewRecipient[],
    { scheduled = false, wake = true }: { scheduled?: boolean; wake?: boolean } = {},
  ): Promise<{ id: string; recipients: string[] }> {
    const id = newId('distribution');
    await app.dataSource.query(
      `INSERT INTO distributions (id, enterprise_id, order_id, status, send_at, recipient_count, created_by_client_id)
       VALUES ($1, $2, $3, $4, now() + CASE WHEN $4 = 'scheduled' THEN interval '1 day' ELSE interval '0' END, $5,
               'cli_test')`,
      [id, order.enterpriseId, order.orderId, scheduled ? 'scheduled' : 'sending', recipients.length],
    );
    const ids: string[] = [];
    for (const [i, r] of recipients.entries()) {
      const recipientId = newId('distributionRecipient');
      ids.push(recipientId);
      await app.dataSource.query(
        `INSERT INTO distribution_recipients (id, distribution_id, enterprise_id, row_number, employee_ref, name, email,
           mobile, channel, design, face_value, card_serial, channel_client_id, holder_ref, status, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, 'Li Lei', $6, $7, $8, 'classic', 10000, $9, $10, $11, $12,
                 CASE WHEN $12 = 'queued' THEN now() END)`,
        [
          recipientId,
          id,
          order.enterpriseId,
          i + 1,
          `EMP-${i + 1}`,
          r.email ?? null,
          r.mobile ?? null,
          r.channel,
          r.card.serial,
          r.channelClientId ?? null,
          r.holderRef ?? null,
          scheduled ? 'scheduled' : 'queued',
        ],
      );
    }
    if (wake && !scheduled) await sender.wake(id);
    return { id, recipients: ids };
  }

  const recipient = async (id: string) =>
    (
      await app.dataSource.query<
        Array<{ status: string; claim_token_hash: Buffer | null; attempts: number; last_error: string | null }>
      >('SELECT status, claim_token_hash, attempts, last_error FROM distribution_recipients WHERE id = $1', [id])
    )[0];
  const cardRow = async (serial: string) =>
    (
      await app.dataSource.query<Array<{ status: string; holder_ref: string | null; bound_client_id: string | null }>>(
        'SELECT status, holder_ref, bound_client_id FROM cards WHERE serial = $1',
        [serial],
      )
    )[0];
  const eventsOf = async (enterpriseId: string, type: string) =>
    app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
      'SELECT data FROM events WHERE enterprise_id = $1 AND type = $2 ORDER BY created_at',
      [enterpriseId, type],
    );
  async function until<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const statusOf = (id: string, wanted: string) =>
    until(
      `recipient ${id} ${wanted}`,
      () => recipient(id),
      (r) => r.status === wanted,
    );
  const tokenIn = (text: string) => /\/claim\/([A-Za-z0-9_-]{43})/.exec(text)?.[1];
  const post = (token: string, path: string, body: object = {}) =>
    app.http.post(path).auth(token, { type: 'bearer' }).send(body);

  it('mails a claim link (no code), delivers the recipient and its card, and records card.delivered', async () => {
    const order = await issuedOrder(2);
    const [card] = order.cards;
    const { recipients } = await distribute(order, [{ card, channel: 'email', email: 'li.lei@example.com' }]);
    await statusOf(recipients[0], 'delivered');

    const [mail] = mailsTo('li.lei@example.com');
    const token = tokenIn(textOf(mail));
    expect(mail.subject).toContain('100.00');
    expect(token).toBeDefined();
    expect(textOf(mail)).not.toContain(card.code);
    expect((await recipient(recipients[0])).claim_token_hash?.equals(claimTokenHash(token!))).toBe(true);
    expect((await cardRow(card.serial)).status).toBe('delivered');
    const delivered = await eventsOf(order.enterpriseId, 'card.delivered');
    expect(delivered).toEqual([
      {
        data: expect.objectContaining({
          serial: card.serial,
          employee_ref: 'EMP-1',
          status: 'delivered',
          channel: 'email',
        }),
      },
    ]);
    expect(JSON.stringify(delivered)).not.toContain(token);
    expect(JSON.stringify(delivered)).not.toContain('li.lei@example.com');
  });

  it('puts code and PIN in the e-mail only when the enterprise enabled it, for anonymous cards', async () => {
    const order = await issuedOrder(1);
    const [card] = order.cards;
    await app.dataSource.query(
      `INSERT INTO distribution_settings (enterprise_id, from_name, code_in_message) VALUES ($1, 'ACME HR', true)`,
      [order.enterpriseId],
    );
    const { recipients } = await distribute(order, [{ card, channel: 'email', email: 'with-code@example.com' }]);
    await statusOf(recipients[0], 'delivered');
    const [mail] = mailsTo('with-code@example.com');
    expect(mail.from?.value[0].name).toBe('ACME HR');
    expect(textOf(mail)).toContain(card.code);
    expect(textOf(mail)).toContain(card.pin);
    const delivered = await eventsOf(order.enterpriseId, 'card.delivered');
    expect(JSON.stringify(delivered)).not.toContain(card.code);
  });

  it('retries a transient SMTP failure on the schedule, then fails the recipient (card.delivery_failed)', async () => {
    const order = await issuedOrder(1);
    refusals.set('busy@example.com', { code: 451, message: '4.2.1 Mailbox busy, try later' });
    const { recipients } = await distribute(order, [
      { card: order.cards[0], channel: 'email', email: 'busy@example.com' },
    ]);
    const failed = await statusOf(recipients[0], 'failed');
    // DISTRIBUTION_RETRY_SCHEDULE_SECONDS=1,1: the first attempt and two retries.
    expect(tried.get('busy@example.com')).toBe(3);
    expect(failed.last_error).toContain('451');
    expect(await eventsOf(order.enterpriseId, 'card.delivery_failed')).toEqual([
      { data: expect.objectContaining({ serial: order.cards[0].serial, status: 'failed' }) },
    ]);
    expect((await cardRow(order.cards[0].serial)).status).toBe('issued');
  });

  it('bounces a permanent failure at once', async () => {
    const order = await issuedOrder(1);
    refusals.set('nobody@example.com', { code: 550, message: '5.1.1 No such user' });
    const { recipients } = await distribute(order, [
      { card: order.cards[0], channel: 'email', email: 'nobody@example.com' },
    ]);
    await statusOf(recipients[0], 'bounced');
    expect(tried.get('nobody@example.com')).toBe(1);
    expect(await eventsOf(order.enterpriseId, 'card.delivery_failed')).toEqual([
      { data: expect.objectContaining({ status: 'bounced' }) },
    ]);
  });

  it('sends an SMS, and its Tencent receipt makes it delivered (once; a wrong token is a 404)', async () => {
    const order = await issuedOrder(1);
    const mobile = '+8613900001111';
    const { recipients } = await distribute(order, [{ card: order.cards[0], channel: 'sms', mobile }]);
    await statusOf(recipients[0], 'sent');
    const [sms] = smsTo(mobile);
    expect(sms.templateId).toBe('100001');
    expect(tokenIn(sms.params.join(' '))).toBeDefined();
    const receipt = [
      {
        user_receive_time: '2026-12-06 10:03:04',
        nationcode: '86',
        mobile: '13900001111',
        report_status: 'SUCCESS',
        errmsg: 'DELIVRD',
        description: '用户短信送达成功',
        sid: sms.sid,
      },
    ];
    await app.http.post('/v1/distribution/sms-receipts/tencent/wrong-token-0123456789').send(receipt).expect(404);
    expect((await recipient(recipients[0])).status).toBe('sent');
    const url = `/v1/distribution/sms-receipts/tencent/${RECEIPT_TOKEN}`;
    const ack = await app.http.post(url).send(receipt).expect(200);
    expect(ack.body).toEqual({ result: 0, errmsg: 'OK' });
    expect((await recipient(recipients[0])).status).toBe('delivered');
    expect((await cardRow(order.cards[0].serial)).status).toBe('delivered');
    await app.http.post(url).send(receipt).expect(200, { result: 0, errmsg: 'OK' });
    expect(await eventsOf(order.enterpriseId, 'card.delivered')).toHaveLength(1);
    // Unknown sids and junk are acknowledged too (Tencent would otherwise retry forever).
    await app.http
      .post(url)
      .send([{ sid: 'nope', report_status: 'FAIL' }, 42])
      .expect(200, { result: 0, errmsg: 'OK' });
  });

  it("takes a failed delivery from Tencent's callback (card.delivery_failed), and a number refused at send bounces", async () => {
    const order = await issuedOrder(2);
    const [off, dead] = ['+8613900002222', '+8613900003333'];
    tencent.failNumber(dead, 'InvalidParameterValue.IncorrectPhoneNumber', 'invalid number');
    const { recipients } = await distribute(order, [
      { card: order.cards[0], channel: 'sms', mobile: off },
      { card: order.cards[1], channel: 'sms', mobile: dead },
    ]);
    await statusOf(recipients[0], 'sent');
    await statusOf(recipients[1], 'bounced');
    const [sms] = smsTo(off);
    const answered = await tencent.sendReceipts(`${app.url}/v1/distribution/sms-receipts/tencent/${RECEIPT_TOKEN}`, [
      { serialNo: sms.sid, delivered: false },
    ]);
    expect(answered).toEqual({ status: 200, body: JSON.stringify({ result: 0, errmsg: 'OK' }) });
    const failed = await recipient(recipients[0]);
    expect(failed.status).toBe('failed');
    expect(failed.last_error).toContain('MK:0001');
    expect((await cardRow(order.cards[0].serial)).status).toBe('issued');
    const events = await eventsOf(order.enterpriseId, 'card.delivery_failed');
    expect(events.map((event) => event.data.status).sort()).toEqual(['bounced', 'failed']);
    expect(JSON.stringify(events)).not.toContain('13900002222');
  });

  it('resends at most 3 times a day; each resend kills the previous link', async () => {
    const order = await issuedOrder(1);
    const { id, recipients } = await distribute(order, [
      { card: order.cards[0], channel: 'email', email: 'again@example.com' },
    ]);
    await statusOf(recipients[0], 'delivered');
    for (let i = 1; i <= 3; i++) {
      const previous = tokenIn(textOf(mailsTo('again@example.com').at(-1)!))!;
      const resent = await post(order.token, `/v1/distributions/${id}/recipients/${recipients[0]}/resend`).expect(200);
      expect(resent.body).toMatchObject({ id: recipients[0], status: 'queued', channel: 'email' });
      expect(resent.body).not.toHaveProperty('claim_url');
      await until(
        'resend sent',
        async () => mailsTo('again@example.com').length,
        (n) => n === i + 1,
      );
      await statusOf(recipients[0], 'delivered');
      const current = await recipient(recipients[0]);
      expect(current.claim_token_hash?.equals(claimTokenHash(previous))).toBe(false);
    }
    const refused = await post(order.token, `/v1/distributions/${id}/recipients/${recipients[0]}/resend`).expect(429);
    expect(refused.body.code).toBe('resend_limit_reached');
  });

  it('hands a link recipient its new claim URL on a resend, and only there', async () => {
    const order = await issuedOrder(1);
    const { id, recipients } = await distribute(order, [{ card: order.cards[0], channel: 'link' }]);
    await statusOf(recipients[0], 'sent');
    const resent = await post(order.token, `/v1/distributions/${id}/recipients/${recipients[0]}/resend`).expect(200);
    const token = tokenIn(resent.body.claim_url);
    expect(token).toBeDefined();
    await statusOf(recipients[0], 'sent');
    expect((await recipient(recipients[0])).claim_token_hash?.equals(claimTokenHash(token!))).toBe(true);
  });

  it('changes a contact before claim: the old link dies, a new message goes to the new address; 409 after claim', async () => {
    const order = await issuedOrder(2);
    const { id, recipients } = await distribute(order, [
      { card: order.cards[0], channel: 'email', email: 'old@example.com' },
      { card: order.cards[1], channel: 'email', email: 'claimed@example.com' },
    ]);
    await statusOf(recipients[0], 'delivered');
    const oldToken = tokenIn(textOf(mailsTo('old@example.com')[0]))!;
    const changed = await post(order.token, `/v1/distributions/${id}/recipients/${recipients[0]}/contact`, {
      email: 'new@example.com',
    }).expect(200);
    expect(changed.body).toMatchObject({ status: 'queued', channel: 'email' });
    await statusOf(recipients[0], 'delivered');
    const newToken = tokenIn(textOf(mailsTo('new@example.com')[0]))!;
    const row = await recipient(recipients[0]);
    expect(row.claim_token_hash?.equals(claimTokenHash(newToken))).toBe(true);
    const [{ n }] = await app.dataSource.query<Array<{ n: number }>>(
      'SELECT count(*)::int AS n FROM distribution_recipients WHERE claim_token_hash = $1',
      [claimTokenHash(oldToken)],
    );
    expect(n).toBe(0);

    await statusOf(recipients[1], 'delivered');
    await app.dataSource.query(`UPDATE distribution_recipients SET status = 'claimed' WHERE id = $1`, [recipients[1]]);
    const refused = await post(order.token, `/v1/distributions/${id}/recipients/${recipients[1]}/contact`, {
      email: 'x@example.com',
    }).expect(409);
    expect(refused.body.code).toBe('already_claimed');
    await post(order.token, `/v1/distributions/${id}/recipients/${recipients[1]}/revoke`).expect(409);
  });

  it('revokes an assignment: the card is back to issued and a new distribution can take it', async () => {
    const order = await issuedOrder(1);
    const [card] = order.cards;
    const { id, recipients } = await distribute(order, [{ card, channel: 'email', email: 'leaver@example.com' }]);
    await statusOf(recipients[0], 'delivered');
    await expect(
      distribute(order, [{ card, channel: 'email', email: 'other@example.com' }], { wake: false }),
    ).rejects.toThrow(/distribution_recipients_card/);
    const revoked = await post(order.token, `/v1/distributions/${id}/recipients/${recipients[0]}/revoke`).expect(200);
    expect(revoked.body).toMatchObject({ status: 'revoked' });
    expect((await recipient(recipients[0])).claim_token_hash).toBeNull();
    expect((await cardRow(card.serial)).status).toBe('issued');
    const again = await distribute(order, [{ card, channel: 'email', email: 'successor@example.com' }]);
    await statusOf(again.recipients[0], 'delivered');
  });

  it('cancels a scheduled distribution (cards freed, distribution.cancelled); 409 once sending began', async () => {
    const order = await issuedOrder(2);
    const scheduled = await distribute(
      order,
      [{ card: order.cards[0], channel: 'email', email: 'later@example.com' }],
      {
        scheduled: true,
      },
    );
    const cancelled = await post(order.token, `/v1/distributions/${scheduled.id}/cancel`).expect(200);
    expect(cancelled.body).toEqual({ object: 'distribution', id: scheduled.id, status: 'cancelled', revoked: 1 });
    expect((await recipient(scheduled.recipients[0])).status).toBe('revoked');
    expect(await eventsOf(order.enterpriseId, 'distribution.cancelled')).toEqual([
      { data: expect.objectContaining({ distribution_id: scheduled.id, recipients: 1 }) },
    ]);
    const sending = await distribute(order, [{ card: order.cards[1], channel: 'email', email: 'now@example.com' }]);
    const refused = await post(order.token, `/v1/distributions/${sending.id}/cancel`).expect(409);
    expect(refused.body.code).toBe('distribution_started');
    // Another enterprise's distribution does not exist for this client.
    const stranger = await issuedOrder(1);
    await post(stranger.token, `/v1/distributions/${sending.id}/cancel`).expect(404);
  });

  it('binds cards straight to accounts of a channel (card.bound), completes the distribution and the order', async () => {
    const order = await issuedOrder(2);
    const channel = await createClient(app, { scopes: ['redemptions:write'], name: 'employee app' });
    const [mailed, bound] = order.cards;
    const { id, recipients } = await distribute(order, [
      { card: mailed, channel: 'email', email: 'complete@example.com' },
      { card: bound, channel: 'account', holderRef: 'emp-42', channelClientId: channel.id },
    ]);
    await statusOf(recipients[1], 'bound');
    expect(await cardRow(bound.serial)).toEqual({
      status: 'active',
      holder_ref: 'emp-42',
      bound_client_id: channel.id,
    });
    const boundEvents = await eventsOf(order.enterpriseId, 'card.bound');
    expect(boundEvents).toEqual([
      { data: expect.objectContaining({ serial: bound.serial, holder_ref: 'emp-42', employee_ref: 'EMP-2' }) },
    ]);
    expect(JSON.stringify(boundEvents)).not.toContain(bound.code);
    expect(sink.messages.some((mail) => textOf(mail).includes(bound.code))).toBe(false);

    await until(
      'order completed',
      async () =>
        (
          await app.dataSource.query<Array<{ status: string }>>('SELECT status FROM orders WHERE id = $1', [
            order.orderId,
          ])
        )[0].status,
      (status) => status === 'completed',
    );
    expect(await eventsOf(order.enterpriseId, 'order.completed')).toHaveLength(1);
    await until(
      'distribution completed',
      async () =>
        (
          await app.dataSource.query<Array<{ status: string }>>('SELECT status FROM distributions WHERE id = $1', [id])
        )[0].status,
      (status) => status === 'completed',
    );
    expect(await eventsOf(order.enterpriseId, 'distribution.completed')).toHaveLength(1);
  });

  it('claims a batch in one statement and records its outcomes in one more', async () => {
    const order = await issuedOrder(20);
    const { id } = await distribute(
      order,
      order.cards.map((card, i) => ({ card, channel: 'email' as const, email: `budget${i}@example.com` })),
      { wake: false },
    );
    // ownOnly: the sweep runs every second in this app, and its statements are not the batch's.
    const { result, statements } = await recordStatements(() => sender.sendBatch(id), { ownOnly: true });
    expect(result).toBe(20);
    const sqls = statements.map((statement) => statement.sql);
    const claims = sqls.filter((sql) => /FOR UPDATE OF r SKIP LOCKED/.test(sql) && /claimed AS/.test(sql));
    const records = sqls.filter((sql) => /^WITH outcome AS/.test(sql.trim()));
    expect(claims).toHaveLength(1);
    expect(records).toHaveLength(1);
    // Nothing else of the batch's bookkeeping touches the recipients or the messages (the order-completion check
    // after the distribution's last batch reads them: it is the order's rule, not the batch's bookkeeping).
    const others = sqls.filter(
      (sql) =>
        !claims.includes(sql) &&
        !records.includes(sql) &&
        !/AS handed_over/.test(sql) &&
        /distribution_(recipients|messages)/.test(sql),
    );
    expect(others).toEqual([]);
    const [{ n }] = await app.dataSource.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM distribution_recipients WHERE distribution_id = $1 AND status = 'delivered'`,
      [id],
    );
    expect(n).toBe(20);
  });
});
