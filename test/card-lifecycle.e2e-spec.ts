import { startTestApp, TEST_ADMIN_CLIENT_ID, type TestApp } from './support/app';
import { cardsWithSecrets, issuedCardsOfBothKinds, waitForIssued, type CardWithSecret } from './support/cards';
import {
  createClient,
  createEnterprise,
  createProduct,
  enterpriseWithClient,
  recordTransfer,
  redemptionChannel,
  TEST_PURCHASER,
} from './support/fixtures';

/** Freeze, loss, void, refund, expiry and the operator's re-activation, for anonymous and registered cards. */
describe('card lifecycle', () => {
  let app: TestApp;
  let channel: string;
  let hr: string;
  let enterprise: string;
  let anonymous: CardWithSecret[];
  let registered: CardWithSecret[];
  let ref = 0;
  const nextRef = () => `lc-${Date.now()}-${ref++}`;

  const as = (token: string) => ({
    post: (path: string, body: object = {}) => app.http.post(path).auth(token, { type: 'bearer' }).send(body),
    get: (path: string) => app.http.get(path).auth(token, { type: 'bearer' }),
  });
  const bind = (card: CardWithSecret, holder: string) =>
    as(channel)
      .post('/v1/redemptions/bind', {
        code: card.code,
        pin: card.pin,
        holder_ref: holder,
        reference: nextRef(),
        ...(card.cardType === 'registered'
          ? {
              holder_identity: {
                name: TEST_PURCHASER.name,
                id_type: 'resident_id',
                id_number: TEST_PURCHASER.id_number,
              },
            }
          : {}),
      })
      .expect(200);
  const debit = (body: object) => as(channel).post('/v1/redemptions/debit', { reference: nextRef(), ...body });
  const eventsOf = async (serial: string) =>
    (
      await app.dataSource.query<Array<{ type: string; data: Record<string, unknown> }>>(
        "SELECT type, data FROM events WHERE data->>'serial' = $1 ORDER BY id",
        [serial],
      )
    ).map((event) => event.type);
  const prepaid = async () => (await as(hr).get('/v1/balance').expect(200)).body.prepaid_balance as number;
  const ledgerOk = async () =>
    (
      await as(await app.operatorToken())
        .get('/v1/admin/ledger/verify')
        .expect(200)
    ).body;
  const float = async (account: string) => {
    const [{ total }] = await app.dataSource.query<Array<{ total: string }>>(
      'SELECT COALESCE(SUM(amount), 0)::text AS total FROM ledger_lines WHERE account = $1',
      [account],
    );
    return Number(total);
  };

  beforeAll(async () => {
    app = await startTestApp({ ISSUANCE_CHUNK_SIZE: '100', RATE_LIMIT_REQUESTS: '100000' });
    const issued = await issuedCardsOfBothKinds(app, 'LC', { anonymous: 8, registered: 4 });
    enterprise = issued.enterpriseId;
    hr = issued.token;
    anonymous = issued.anonymous;
    registered = issued.registered;
    channel = (await redemptionChannel(app, 'storefront')).token;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('freezes and unfreezes: a frozen card is neither bound nor spent, and comes back as it was', async () => {
    const [card, unbound] = anonymous;
    await bind(card, 'frosty');
    const frozen = await as(hr).post(`/v1/cards/${card.serial}/freeze`, { reason: 'holder called in' }).expect(200);
    expect(frozen.body).toMatchObject({ status: 'frozen', balance: 10_000, holder_ref: 'frosty' });
    const spend = await debit({ serial: card.serial, holder_ref: 'frosty', amount: 100 }).expect(409);
    // The card's status is an extension member of its own: the problem's `status` stays the HTTP status.
    expect(spend.body).toMatchObject({ code: 'card_frozen', status: 409, card_status: 'frozen' });
    expect((await as(hr).post(`/v1/cards/${card.serial}/freeze`).expect(409)).body.code).toBe('card_frozen');
    expect((await as(hr).post(`/v1/cards/${card.serial}/unfreeze`).expect(200)).body.status).toBe('active');
    expect((await as(hr).post(`/v1/cards/${card.serial}/unfreeze`).expect(409)).body.code).toBe('invalid_card_state');
    const spent = await debit({ serial: card.serial, holder_ref: 'frosty', amount: 100 }).expect(200);
    await as(channel).post(`/v1/redemptions/${spent.body.id}/reverse`, { reference: nextRef() }).expect(200);

    await as(hr).post(`/v1/cards/${unbound.serial}/freeze`).expect(200);
    const refused = await as(channel)
      .post('/v1/redemptions/bind', { code: unbound.code, pin: unbound.pin, holder_ref: 'x', reference: nextRef() })
      .expect(409);
    expect(refused.body.code).toBe('card_frozen');
    expect((await as(hr).post(`/v1/cards/${unbound.serial}/unfreeze`).expect(200)).body.status).toBe('issued');
    expect(await eventsOf(card.serial)).toEqual([
      'card.bound',
      'card.frozen',
      'card.unfrozen',
      'card.debited',
      'card.reversed',
    ]);
  });

  it("keeps tenants apart: another enterprise's client gets 404 for the card", async () => {
    const outsider = await enterpriseWithClient(app, ['cards:write', 'cards:read']);
    const card = anonymous[6];
    const refused = await as(outsider.token).post(`/v1/cards/${card.serial}/freeze`).expect(404);
    expect(refused.body.code).toBe('card_not_found');
    await as(outsider.token).get(`/v1/cards/${card.serial}/transactions`).expect(404);
    await as(outsider.token)
      .post('/v1/cards/void', { serials: [card.serial] })
      .expect(404);
    expect((await as(hr).get(`/v1/cards/${card.serial}`).expect(200)).body.status).toBe('issued');
  });

  it('reports loss of registered cards only: the replacement carries the balance for the same holder', async () => {
    const anon = anonymous[1];
    const refusal = await as(hr).post(`/v1/cards/${anon.serial}/report-loss`).expect(422);
    expect(refusal.body.code).toBe('anonymous_card_not_reportable');

    const card = registered[0];
    await bind(card, 'named');
    await debit({ serial: card.serial, holder_ref: 'named', amount: 3_000 }).expect(200);
    const floatBefore = await float('card_float');
    const lost = await as(hr).post(`/v1/cards/${card.serial}/report-loss`).expect(200);
    const replacement = lost.body.replacement;
    expect(lost.body.card).toMatchObject({
      serial: card.serial,
      status: 'lost',
      balance: 0,
      replaced_by: replacement.serial,
    });
    expect(replacement).toMatchObject({
      status: 'active',
      balance: 7_000,
      face_value: 10_000,
      holder_ref: 'named',
      replaces: card.serial,
    });
    expect(await float('card_float')).toBe(floatBefore);
    // The lost card's code is dead; the holder spends on with the new card.
    const verify = await as(channel).post('/v1/redemptions/verify', { code: card.code }).expect(422);
    expect(verify.body.code).toBe('card_lost');
    const spent = await debit({ holder_ref: 'named', amount: 1_000 }).expect(200);
    expect(spent.body.cards).toEqual([
      { serial: replacement.serial, amount: -1_000, balance_after: 6_000, status: 'active' },
    ]);
    expect(await eventsOf(card.serial)).toEqual(['card.bound', 'card.debited', 'card.lost', 'card.replaced']);
    const [replaced] = await app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
      "SELECT data FROM events WHERE type = 'card.replaced' AND data->>'serial' = $1",
      [card.serial],
    );
    expect(replaced.data).toMatchObject({
      replacement_serial: replacement.serial,
      amount: 7_000,
      balance_after: 7_000,
    });
    expect(await ledgerOk()).toMatchObject({ ok: true });
  });

  it("refunds a registered card's balance (赎回) but never an anonymous card's", async () => {
    const anon = anonymous[2];
    expect((await as(hr).post(`/v1/cards/${anon.serial}/refund`).expect(422)).body.code).toBe(
      'anonymous_card_not_refundable',
    );
    const card = registered[1];
    await bind(card, 'refundee');
    await debit({ serial: card.serial, holder_ref: 'refundee', amount: 2_500 }).expect(200);
    const payableBefore = await float('card_refunds_payable');
    const refunded = await as(hr).post(`/v1/cards/${card.serial}/refund`).expect(200);
    expect(refunded.body).toMatchObject({ status: 'refunded', balance: 0 });
    expect(await float('card_refunds_payable')).toBe(payableBefore - 7_500);
    expect((await debit({ serial: card.serial, holder_ref: 'refundee', amount: 1 }).expect(422)).body.code).toBe(
      'card_refunded',
    );
    expect((await as(hr).post(`/v1/cards/${card.serial}/refund`).expect(422)).body.code).toBe('card_refunded');
    const [event] = await app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
      "SELECT data FROM events WHERE type = 'card.refunded' AND data->>'serial' = $1",
      [card.serial],
    );
    expect(event.data).toMatchObject({ amount: -7_500, balance_after: 0, holder_ref: 'refundee' });
  });

  it('voids unused cards back to prepaid at what they cost, all or none', async () => {
    const [used, unused1, unused2] = [anonymous[0], anonymous[3], registered[2]];
    const before = await prepaid();
    const mixed = await as(hr)
      .post('/v1/cards/void', { serials: [unused1.serial, used.serial] })
      .expect(409);
    expect(mixed.body).toMatchObject({ code: 'card_not_unused', serial: used.serial });
    expect(await prepaid()).toBe(before);

    const voided = await as(hr)
      .post('/v1/cards/void', { serials: [unused1.serial, unused2.serial] })
      .expect(200);
    expect(voided.body).toMatchObject({ object: 'card_void', voided: 2 });
    expect(voided.body.cards.map((card: { status: string }) => card.status)).toEqual(['voided', 'voided']);
    // No discount on this enterprise: the full face value returns.
    expect(voided.body.refunded_to_prepaid).toBe(20_000);
    expect(await prepaid()).toBe(before + 20_000);
    const bindVoided = await as(channel)
      .post('/v1/redemptions/bind', { code: unused1.code, pin: unused1.pin, holder_ref: 'late', reference: nextRef() })
      .expect(422);
    expect(bindVoided.body).toMatchObject({ code: 'card_voided', serial: unused1.serial });
    expect(await eventsOf(unused2.serial)).toEqual(['card.voided']);
    // The operator voids any enterprise's unused cards; the money goes to that enterprise.
    const byOperator = await as(await app.operatorToken())
      .post('/v1/admin/cards/void', { serials: [anonymous[7].serial] })
      .expect(200);
    expect(byOperator.body).toMatchObject({ voided: 1, refunded_to_prepaid: 10_000 });
    expect(await prepaid()).toBe(before + 30_000);
    expect(await ledgerOk()).toMatchObject({ ok: true });
  });

  it('voids cards bought on credit back to the credit line first: credit never becomes prepaid balance', async () => {
    const operator = await app.operatorToken();
    const product = await createProduct(app);
    const company = await createEnterprise(app, { credit_limit: 1_000_000, discount_bps: 200 });
    const client = await createClient(app, {
      enterprise_id: company.id,
      scopes: ['orders:write', 'orders:read', 'orders:approve', 'cards:write', 'cards:read'],
    });
    const token = await app.tokenFor(client.id, client.client_secret);
    const balance = async () => (await as(token).get('/v1/balance').expect(200)).body as Record<string, number>;
    const placed = await as(token)
      .post('/v1/orders', {
        po_number: `CREDIT-VOID-${Date.now()}`,
        payment_method: 'credit_line',
        lines: [{ product_id: product.id, face_value: 10_000, quantity: 4 }],
      })
      .expect(201);
    expect(placed.body.payable).toBe(39_200);
    await as(token).post(`/v1/orders/${placed.body.id}/pay`).expect(200);
    await waitForIssued(app, placed.body.id as string);
    const cards = await cardsWithSecrets(app, placed.body.id as string);
    expect(await balance()).toMatchObject({ prepaid_balance: 0, credit_used: 39_200 });

    const first = await as(token)
      .post('/v1/cards/void', { serials: [cards[0].serial, cards[1].serial] })
      .expect(200);
    expect(first.body).toMatchObject({ voided: 2, refunded_to_credit: 19_600, refunded_to_prepaid: 0 });
    expect(await balance()).toMatchObject({ prepaid_balance: 0, credit_used: 19_600 });

    // Credit repaid since was the enterprise's own money: that part of a later void comes back as prepaid.
    await recordTransfer(app, operator, {
      enterprise_id: company.id,
      payer_account_name: company.name,
      amount: 15_000,
      kind: 'credit_repayment',
    }).expect(201);
    const second = await as(token)
      .post('/v1/cards/void', { serials: [cards[2].serial, cards[3].serial] })
      .expect(200);
    expect(second.body).toMatchObject({ voided: 2, refunded_to_credit: 4_600, refunded_to_prepaid: 15_000 });
    expect(await balance()).toMatchObject({ prepaid_balance: 15_000, credit_used: 0 });
    expect(await ledgerOk()).toMatchObject({ ok: true });
  });

  it('expires cards past expires_at into breakage; the operator re-activates or replaces expired anonymous ones', async () => {
    const operator = await app.operatorToken();
    const [kept, swapped, registeredCard] = [anonymous[4], anonymous[5], registered[3]];
    await bind(kept, 'expiring');
    await debit({ serial: kept.serial, holder_ref: 'expiring', amount: 4_000 }).expect(200);
    await app.dataSource.query("UPDATE cards SET expires_at = now() - interval '1 minute' WHERE serial = ANY($1)", [
      [kept.serial, swapped.serial, registeredCard.serial],
    ]);
    // Past expiry, before the job has run: already refused.
    expect((await debit({ serial: kept.serial, holder_ref: 'expiring', amount: 1 }).expect(422)).body.code).toBe(
      'card_expired',
    );
    const breakageBefore = await float('breakage');
    const run = await as(operator).post('/v1/admin/cards/expire-due').expect(200);
    expect(run.body.expired).toBeGreaterThanOrEqual(3);
    expect(await float('breakage')).toBeLessThanOrEqual(breakageBefore - (6_000 + 10_000 + 10_000));
    expect((await as(hr).get(`/v1/cards/${kept.serial}`).expect(200)).body).toMatchObject({
      status: 'expired',
      balance: 0,
    });
    expect(await ledgerOk()).toMatchObject({ ok: true });
    const verify = await as(channel).post('/v1/redemptions/verify', { code: kept.code }).expect(422);
    expect(verify.body.code).toBe('card_expired');

    const reactivated = await as(operator).post(`/v1/admin/cards/${kept.serial}/reactivate`).expect(200);
    expect(reactivated.body).toMatchObject({ status: 'active', balance: 6_000, holder_ref: 'expiring' });
    expect(new Date(reactivated.body.expires_at).getTime()).toBeGreaterThan(Date.now() + 3 * 364 * 86_400_000);
    await debit({ serial: kept.serial, holder_ref: 'expiring', amount: 6_000 }).expect(200);

    const replaced = await as(operator).post(`/v1/admin/cards/${swapped.serial}/replace`).expect(200);
    expect(replaced.body.card).toMatchObject({ status: 'replaced', balance: 0 });
    expect(replaced.body.replacement).toMatchObject({ status: 'issued', balance: 10_000, replaces: swapped.serial });
    expect((await as(operator).post(`/v1/admin/cards/${swapped.serial}/reactivate`).expect(409)).body.code).toBe(
      'invalid_card_state',
    );
    const registeredRefusal = await as(operator)
      .post(`/v1/admin/cards/${registeredCard.serial}/reactivate`)
      .expect(422);
    expect(registeredRefusal.body.code).toBe('registered_card_not_reactivatable');
    expect(await eventsOf(kept.serial)).toEqual([
      'card.bound',
      'card.debited',
      'card.expired',
      'card.reactivated',
      'card.debited',
    ]);
    expect(await eventsOf(swapped.serial)).toEqual(['card.expired', 'card.replaced']);
    expect(await ledgerOk()).toMatchObject({ ok: true });
  });

  it('left an audit record with its actor for every card change and money movement, keeping the reason', async () => {
    const records = await app.dataSource.query<
      Array<{
        action: string;
        actor_client_id: string | null;
        object_id: string;
        data: { summary: Record<string, unknown> };
      }>
    >('SELECT action, actor_client_id, object_id, data FROM audit_records WHERE enterprise_id = $1 ORDER BY seq', [
      enterprise,
    ]);
    const actions = new Set(records.map((record) => record.action));
    for (const action of [
      'payment.recorded',
      'order.paid',
      'cards.minted',
      'card.bound',
      'card.debited',
      'card.reversed',
      'card.frozen',
      'card.unfrozen',
      'card.reported_lost',
      'card.refunded',
      'cards.voided',
      'card.reactivated',
      'card.replaced',
    ]) {
      expect(actions).toContain(action);
    }
    // Queued work acts as the system (no client); everything asked for through the API names its client.
    for (const record of records) {
      if (record.action === 'cards.minted') expect(record.actor_client_id).toBeNull();
      else expect(record.actor_client_id).toMatch(/^cli_/);
    }
    const [frozenCard] = anonymous;
    const frozen = records.find((record) => record.action === 'card.frozen' && record.object_id === frozenCard.serial);
    expect(frozen?.data.summary).toMatchObject({
      reason: 'holder called in',
      movements: [{ serial: frozenCard.serial, kind: 'freeze', amount: 0 }],
    });
    const debited = records.find((record) => record.action === 'card.debited');
    expect(debited?.data.summary).toMatchObject({ ledger_kind: 'card_debit', ledger_entry_id: expect.any(String) });
    // An expiry run's chunks span enterprises: found by the card it expired; run through the API, by the operator.
    const [expired] = await app.dataSource.query<Array<{ actor_client_id: string | null }>>(
      `SELECT actor_client_id FROM audit_records WHERE action = 'cards.expired'
       AND data->'summary'->'movements' @> $1::jsonb`,
      [JSON.stringify([{ serial: anonymous[4].serial, kind: 'expire' }])],
    );
    expect(expired).toEqual({ actor_client_id: TEST_ADMIN_CLIENT_ID });
    const verify = await as(await app.operatorToken())
      .get('/v1/admin/audit/verify')
      .expect(200);
    expect(verify.body).toMatchObject({ ok: true, first_failure: null });
  });

  it('emitted every kind of card event for the enterprise, and only with serials and amounts', async () => {
    const rows = await app.dataSource.query<Array<{ type: string; data: Record<string, unknown> }>>(
      "SELECT type, data FROM events WHERE enterprise_id = $1 AND type LIKE 'card.%'",
      [enterprise],
    );
    expect(new Set(rows.map((row) => row.type))).toEqual(
      new Set([
        'card.bound',
        'card.debited',
        'card.reversed',
        'card.frozen',
        'card.unfrozen',
        'card.lost',
        'card.replaced',
        'card.voided',
        'card.refunded',
        'card.expired',
        'card.reactivated',
      ]),
    );
    for (const row of rows) {
      expect(row.data).toEqual(
        expect.objectContaining({
          serial: expect.any(String),
          amount: expect.any(Number),
          balance_after: expect.any(Number),
        }),
      );
    }
    const text = JSON.stringify(rows);
    for (const card of [...anonymous, ...registered]) {
      expect(text).not.toContain(card.code);
    }
  });
});
