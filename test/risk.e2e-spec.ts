import { randomBytes } from 'node:crypto';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued, type CardWithSecret } from './support/cards';
import { createProduct, placePaidOrder } from './support/fixtures';
import { riskCalls } from './support/risk';

/**
 * Fraud monitoring (README, "Fraud monitoring"): each rule fires at its threshold and not below, with its action
 * (flag: an alert; hold: the card frozen, reason risk; block: 403 risk_blocked, nothing written); a scalper binding
 * many cards of one order is held; an employee's normal use raises nothing. Counts are SQL over the committed
 * movements (Postgres, whatever the queue or limiter backend): there is no second counter store to test.
 */
describe('fraud monitoring', () => {
  let app: TestApp;
  let operator: string;
  let cards: CardWithSecret[];
  let orderId: string;
  let enterpriseId: string;
  let nextCard = 0;
  const takeCard = () => cards[nextCard++];
  const { channel, bind, debit, setRules, alerts, status } = riskCalls(
    () => app,
    () => operator,
    'risk',
  );

  beforeAll(async () => {
    app = await startTestApp({ ISSUANCE_CHUNK_SIZE: '100', RATE_LIMIT_REQUESTS: '100000' });
    operator = await app.operatorToken();
    const product = await createProduct(app);
    const placed = await placePaidOrder(app, `RISK-${randomBytes(4).toString('hex')}`, [
      { product_id: product.id, face_value: 10_000, quantity: 30 },
    ]);
    orderId = placed.order.id;
    enterpriseId = placed.enterprise.id;
    await waitForIssued(app, orderId);
    cards = await cardsWithSecrets(app, orderId);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('an employee binding two cards and spending them now and then raises nothing (default rules)', async () => {
    const shop = await channel('normal shop');
    const [first, second] = [takeCard(), takeCard()];
    await bind(shop.token, first, 'employee-1').expect(200);
    await bind(shop.token, second, 'employee-1').expect(200);
    for (let i = 0; i < 3; i++) await debit(shop.token, first, 'employee-1').expect(200);
    await debit(shop.token, second, 'employee-1').expect(200);
    expect(await alerts({ client_id: shop.id })).toEqual([]);
  });

  it('binds per holder: flags at the threshold and not below, with the figures and objects, never a code', async () => {
    const shop = await channel('busy holder');
    await setRules({
      client_id: shop.id,
      rules: [{ rule: 'binds_per_holder_hour', threshold: 3, action: 'flag' }],
    }).expect(200);
    const [a, b, c] = [takeCard(), takeCard(), takeCard()];
    await bind(shop.token, a, 'collector').expect(200);
    await bind(shop.token, b, 'collector').expect(200);
    expect(await alerts({ client_id: shop.id })).toEqual([]);
    await bind(shop.token, c, 'collector').expect(200);
    const [alert] = await alerts({ client_id: shop.id });
    expect(alert).toMatchObject({
      rule: 'binds_per_holder_hour',
      action: 'flag',
      figures: { count: 3, threshold: 3, window_seconds: 3600 },
      serial: c.serial,
      holder_ref: 'collector',
      order_id: orderId,
      enterprise_id: enterpriseId,
    });
    expect(await status(c.serial)).toBe('active');
    // Its event goes to the card's enterprise; nothing names a code or PIN.
    const [event] = await app.dataSource.query<Array<{ data: Record<string, unknown>; enterprise_id: string }>>(
      "SELECT data, enterprise_id FROM events WHERE type = 'risk.alert' AND data ->> 'alert_id' = $1",
      [alert.id],
    );
    expect(event.enterprise_id).toBe(enterpriseId);
    expect(event.data).toMatchObject({ rule: 'binds_per_holder_hour', action: 'flag', serial: c.serial });
    const everything = JSON.stringify([alert, event]);
    for (const secret of [a.code, b.code, c.code, c.pin]) expect(everything).not.toContain(secret);
    const metrics = (await app.metrics.get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/risk_alerts_total\{rule="binds_per_holder_hour",action="flag"\} [1-9]/);
  });

  it('debits per card: a block refuses the debit at the threshold (403 risk_blocked), nothing written', async () => {
    const shop = await channel('fast spender');
    await setRules({
      client_id: shop.id,
      rules: [{ rule: 'debits_per_card_minute', threshold: 3, action: 'block' }],
    }).expect(200);
    const card = takeCard();
    await bind(shop.token, card, 'spender').expect(200);
    await debit(shop.token, card, 'spender').expect(200);
    await debit(shop.token, card, 'spender').expect(200);
    expect(await alerts({ client_id: shop.id })).toEqual([]);
    const refused = await debit(shop.token, card, 'spender').expect(403);
    expect(refused.body).toMatchObject({ code: 'risk_blocked', rule: 'debits_per_card_minute' });
    const [row] = await app.dataSource.query<Array<{ balance: string; debits: number }>>(
      `SELECT balance::text AS balance,
              (SELECT count(*)::int FROM card_transactions WHERE serial = $1 AND kind = 'debit') AS debits
       FROM cards WHERE serial = $1`,
      [card.serial],
    );
    expect(row).toEqual({ balance: '9800', debits: 2 });
    const [alert] = await alerts({ client_id: shop.id, rule: 'debits_per_card_minute' });
    expect(alert).toMatchObject({ action: 'block', figures: { count: 3, threshold: 3, window_seconds: 60 } });
  });

  it('debits per card: a flag lets the debit through, at the threshold', async () => {
    const shop = await channel('flagged spender');
    await setRules({
      client_id: shop.id,
      rules: [{ rule: 'debits_per_card_minute', threshold: 2, action: 'flag' }],
    }).expect(200);
    const card = takeCard();
    await bind(shop.token, card, 'spender').expect(200);
    await debit(shop.token, card, 'spender').expect(200);
    expect(await alerts({ client_id: shop.id })).toEqual([]);
    await debit(shop.token, card, 'spender').expect(200);
    expect(await alerts({ client_id: shop.id })).toEqual([
      expect.objectContaining({
        rule: 'debits_per_card_minute',
        action: 'flag',
        figures: expect.objectContaining({ count: 2 }),
      }),
    ]);
  });

  it('a scalper binding many cards of one order to one account within minutes is held', async () => {
    const market = await channel('resale market');
    const bought = Array.from({ length: 8 }, () => takeCard());
    for (const card of bought) await bind(market.token, card, 'scalper').expect(200);
    // The default rule: from the 5th card of the order on, each is frozen (card.frozen, reason risk).
    const statuses = await Promise.all(bought.map((card) => status(card.serial)));
    expect(statuses).toEqual(['active', 'active', 'active', 'active', 'frozen', 'frozen', 'frozen', 'frozen']);
    const held = await alerts({ client_id: market.id, rule: 'order_cards_to_one_holder' });
    expect(held).toHaveLength(4);
    expect(held.every((alert) => alert.action === 'hold' && alert.order_id === orderId)).toBe(true);
    expect(held.map((alert) => alert.figures.count).sort()).toEqual([5, 6, 7, 8]);
    const [frozen] = await app.dataSource.query<Array<{ data: { reason: string } }>>(
      "SELECT data FROM events WHERE type = 'card.frozen' AND data ->> 'serial' = $1",
      [bought[4].serial],
    );
    expect(frozen.data.reason).toBe('risk');
    // A held card is spent no more until its enterprise or the operator unfreezes it.
    expect((await debit(market.token, bought[4], 'scalper').expect(409)).body.code).toBe('card_frozen');
  });

  it('binds per channel: an enterprise setting applies to its cards; a block refuses the bind', async () => {
    const shop = await channel('channel storm');
    await setRules({
      enterprise_id: enterpriseId,
      rules: [{ rule: 'binds_per_channel_day', threshold: 2, action: 'block' }],
    }).expect(200);
    try {
      const [a, b] = [takeCard(), takeCard()];
      await bind(shop.token, a, 'one').expect(200);
      const refused = await bind(shop.token, b, 'two').expect(403);
      expect(refused.body.code).toBe('risk_blocked');
      expect(await status(b.serial)).not.toBe('active');
      const [alert] = await alerts({ client_id: shop.id, rule: 'binds_per_channel_day' });
      expect(alert).toMatchObject({ action: 'block', figures: { count: 2, threshold: 2 } });
    } finally {
      await setRules({
        enterprise_id: enterpriseId,
        rules: [{ rule: 'binds_per_channel_day', enabled: false }],
      }).expect(200);
    }
  });

  it('wrong PINs of a card: flags at the threshold', async () => {
    const shop = await channel('pin guesser');
    await setRules({ client_id: shop.id, rules: [{ rule: 'verify_failures_per_card', threshold: 2 }] }).expect(200);
    const card = takeCard();
    const wrong = card.pin === '000000' ? '111111' : '000000';
    await bind(shop.token, card, 'guesser', { pin: wrong }).expect(422);
    expect(await alerts({ client_id: shop.id })).toEqual([]);
    await bind(shop.token, card, 'guesser', { pin: wrong }).expect(422);
    const [alert] = await alerts({ client_id: shop.id });
    expect(alert).toMatchObject({ rule: 'verify_failures_per_card', action: 'flag', figures: { count: 2 } });
  });

  it('lists alerts by cursor and filters; settings are checked and shown per scope', async () => {
    const first = await app.http
      .get('/v1/admin/risk/alerts')
      .query({ limit: 2 })
      .auth(operator, { type: 'bearer' })
      .expect(200);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.has_more).toBe(true);
    const next = await app.http
      .get('/v1/admin/risk/alerts')
      .query({ limit: 2, starting_after: first.body.next_cursor as string })
      .auth(operator, { type: 'bearer' })
      .expect(200);
    expect(next.body.data[0].id < first.body.data[1].id).toBe(true);
    expect((await alerts({ action: 'hold' })).every((alert) => alert.action === 'hold')).toBe(true);

    const invalid = await setRules({ rules: [{ rule: 'no_such_rule', threshold: 1 }] }).expect(400);
    expect(invalid.body.code).toBe('validation_failed');
    const shown = await app.http
      .get('/v1/admin/risk-rules')
      .query({ enterprise_id: enterpriseId })
      .auth(operator, { type: 'bearer' })
      .expect(200);
    expect(shown.body.rules).toContainEqual(
      expect.objectContaining({ rule: 'binds_per_channel_day', enabled: false, action: 'block', threshold: 2 }),
    );
    expect(shown.body.rules).toContainEqual(
      expect.objectContaining({ rule: 'order_cards_to_one_holder', threshold: 5, action: 'hold', enabled: true }),
    );
  });
});
