import { generateCodes } from '../src/cards/card-code';
import { startTestApp, type TestApp } from './support/app';
import { issuedCardsOfBothKinds, wrongPin, type CardWithSecret } from './support/cards';
import { redemptionChannel, TEST_PURCHASER } from './support/fixtures';

/** The redemption channel end to end: verify, bind, debit, reverse, idempotency, concurrency and refusals. */
describe('redemption channel', () => {
  let app: TestApp;
  let channel: string;
  let enterprise: string;
  let anonymous: CardWithSecret[];
  let registered: CardWithSecret[];
  let ref = 0;
  const nextRef = (prefix = 'ref') => `${prefix}-${Date.now()}-${ref++}`;

  const post = (path: string, body: object, token = channel) =>
    app.http.post(path).auth(token, { type: 'bearer' }).send(body);
  const cardRow = async (serial: string) =>
    (
      await app.dataSource.query<Array<{ status: string; balance: string; holder_ref: string | null }>>(
        'SELECT status, balance::text AS balance, holder_ref FROM cards WHERE serial = $1',
        [serial],
      )
    )[0];
  const ledgerOk = async () =>
    (
      await app.http
        .get('/v1/admin/ledger/verify')
        .auth(await app.operatorToken(), { type: 'bearer' })
        .expect(200)
    ).body;

  beforeAll(async () => {
    app = await startTestApp({ ISSUANCE_CHUNK_SIZE: '100', RATE_LIMIT_REQUESTS: '100000' });
    const issued = await issuedCardsOfBothKinds(app, 'RDM', { anonymous: 12, registered: 3 });
    enterprise = issued.enterpriseId;
    anonymous = issued.anonymous;
    registered = issued.registered;
    channel = (await redemptionChannel(app, 'storefront')).token;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('verifies a code: refuses a wrong check character with 400 and an unknown code with 422', async () => {
    const card = anonymous[0];
    const verified = await post('/v1/redemptions/verify', { code: card.code.toLowerCase() }).expect(200);
    expect(verified.body).toEqual({
      object: 'card_verification',
      serial: card.serial,
      card_type: 'anonymous',
      status: 'issued',
      face_value: 10_000,
      balance: 10_000,
      currency: 'CNY',
      expires_at: expect.any(String),
      bound: false,
    });
    // One character changed: the check character no longer fits.
    const typo = (card.code[0] === 'A' ? 'B' : 'A') + card.code.slice(1);
    const malformed = await post('/v1/redemptions/verify', { code: typo }).expect(400);
    expect(malformed.body).toMatchObject({ code: 'invalid_card_code' });
    expect(JSON.stringify(malformed.body)).not.toContain(card.code);
    const unknown = await post('/v1/redemptions/verify', { code: generateCodes(1)[0] }).expect(422);
    expect(unknown.body).toMatchObject({ code: 'invalid_card_credentials' });
  });

  it('binds a card once: the same answer for an unknown code and a wrong PIN, replays by reference', async () => {
    const card = anonymous[0];
    const unknown = await post('/v1/redemptions/bind', {
      code: generateCodes(1)[0],
      pin: card.pin,
      holder_ref: 'holder-a',
      reference: nextRef(),
    }).expect(422);
    const badPin = await post('/v1/redemptions/bind', {
      code: card.code,
      pin: wrongPin(card.pin),
      holder_ref: 'holder-a',
      reference: nextRef(),
    }).expect(422);
    const strip = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });
    expect(strip(badPin.body)).toEqual(strip(unknown.body));
    expect(await cardRow(card.serial)).toMatchObject({ status: 'issued', holder_ref: null });

    const reference = nextRef('bind');
    const body = { code: card.code, pin: card.pin, holder_ref: 'holder-a', reference };
    const bound = await post('/v1/redemptions/bind', body).expect(200);
    expect(bound.body).toMatchObject({
      object: 'redemption',
      kind: 'bind',
      reference,
      holder_ref: 'holder-a',
      amount: 0,
      cards: [{ serial: card.serial, amount: 0, balance_after: 10_000, status: 'active' }],
    });
    const replay = await post('/v1/redemptions/bind', body).expect(200);
    expect(replay.body).toEqual(bound.body);
    const reused = await post('/v1/redemptions/bind', { ...body, holder_ref: 'holder-b' }).expect(422);
    expect(reused.body.code).toBe('reference_reused');
    const other = await post('/v1/redemptions/bind', { ...body, holder_ref: 'holder-b', reference: nextRef() });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('card_already_bound');
    expect(await cardRow(card.serial)).toMatchObject({ status: 'active', holder_ref: 'holder-a' });
    const events = await app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
      "SELECT data FROM events WHERE type = 'card.bound' AND data->>'serial' = $1",
      [card.serial],
    );
    expect(events).toHaveLength(1);
    expect(events[0].data).toMatchObject({
      serial: card.serial,
      amount: 0,
      balance_after: 10_000,
      holder_ref: 'holder-a',
    });
  });

  it('200 concurrent binds of one code by different holders: exactly one wins', async () => {
    const card = anonymous[1];
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        post('/v1/redemptions/bind', {
          code: card.code,
          pin: card.pin,
          holder_ref: `racer-${i}`,
          reference: nextRef(),
        }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(199);
    expect(answers.filter((answer) => answer.status === 409).every((a) => a.body.code === 'card_already_bound')).toBe(
      true,
    );
    const winner = answers.find((answer) => answer.status === 200)!.body.holder_ref as string;
    expect(await cardRow(card.serial)).toMatchObject({ status: 'active', holder_ref: winner });
    const [{ n }] = await app.dataSource.query<Array<{ n: number }>>(
      "SELECT count(*)::int AS n FROM card_transactions WHERE serial = $1 AND kind = 'bind'",
      [card.serial],
    );
    expect(n).toBe(1);
  });

  it('debits partially, refuses an overdraft with no change, and reverses up to the debit', async () => {
    const card = anonymous[0];
    const reference = nextRef('debit');
    const debit = await post('/v1/redemptions/debit', {
      serial: card.serial,
      holder_ref: 'holder-a',
      amount: 2_500,
      reference,
    }).expect(200);
    expect(debit.body).toMatchObject({
      kind: 'debit',
      amount: 2_500,
      cards: [{ serial: card.serial, amount: -2_500, balance_after: 7_500, status: 'active' }],
    });
    // The same reference again: the stored answer, no second debit.
    await post('/v1/redemptions/debit', {
      serial: card.serial,
      holder_ref: 'holder-a',
      amount: 2_500,
      reference,
    }).expect(200);
    expect((await cardRow(card.serial)).balance).toBe('7500');

    const over = await post('/v1/redemptions/debit', {
      serial: card.serial,
      holder_ref: 'holder-a',
      amount: 7_501,
      reference: nextRef(),
    });
    expect(over.status).toBe(422);
    expect(over.body).toMatchObject({ code: 'insufficient_balance', balance: 7_500 });
    expect((await cardRow(card.serial)).balance).toBe('7500');
    const wrongHolder = await post('/v1/redemptions/debit', {
      serial: card.serial,
      holder_ref: 'someone-else',
      amount: 1,
      reference: nextRef(),
    }).expect(422);
    expect(wrongHolder.body.code).toBe('card_holder_mismatch');
    // A card no channel has bound does not exist for a channel naming it by serial.
    const unbound = await post('/v1/redemptions/debit', {
      serial: anonymous[5].serial,
      holder_ref: 'holder-a',
      amount: 1,
      reference: nextRef(),
    }).expect(404);
    expect(unbound.body.code).toBe('card_not_found');

    const id = debit.body.id as string;
    const tooMuch = await post(`/v1/redemptions/${id}/reverse`, { amount: 2_501, reference: nextRef() }).expect(422);
    expect(tooMuch.body).toMatchObject({ code: 'reversal_exceeds_debit', reversible: 2_500 });
    const part = await post(`/v1/redemptions/${id}/reverse`, { amount: 1_000, reference: nextRef() }).expect(200);
    expect(part.body).toMatchObject({ kind: 'reverse', amount: 1_000, reverses_id: id });
    expect(part.body.cards).toEqual([{ serial: card.serial, amount: 1_000, balance_after: 8_500, status: 'active' }]);
    const rest = await post(`/v1/redemptions/${id}/reverse`, { reference: nextRef() }).expect(200);
    expect(rest.body.amount).toBe(1_500);
    const none = await post(`/v1/redemptions/${id}/reverse`, { amount: 1, reference: nextRef() }).expect(422);
    expect(none.body).toMatchObject({ code: 'reversal_exceeds_debit', reversible: 0 });
    expect((await cardRow(card.serial)).balance).toBe('10000');
    expect(await ledgerOk()).toMatchObject({ ok: true });
  });

  it('200 concurrent debits that would overdraw: never below zero, every success booked, ledger verifies', async () => {
    const card = anonymous[2];
    await post('/v1/redemptions/bind', {
      code: card.code,
      pin: card.pin,
      holder_ref: 'spender',
      reference: nextRef(),
    }).expect(200);
    // 200 × 70 fen = 14,000 fen against a 10,000 fen balance.
    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        post('/v1/redemptions/debit', {
          serial: card.serial,
          holder_ref: 'spender',
          amount: 70,
          reference: nextRef('race'),
        }),
      ),
    );
    const ok = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status === 422);
    expect(ok.length + refused.length).toBe(200);
    expect(ok).toHaveLength(Math.floor(10_000 / 70));
    expect(refused.every((answer) => answer.body.code === 'insufficient_balance')).toBe(true);
    const row = await cardRow(card.serial);
    expect(Number(row.balance)).toBe(10_000 - 70 * ok.length);
    const balances = ok.map((answer) => answer.body.cards[0].balance_after as number).sort((a, b) => a - b);
    expect(new Set(balances).size).toBe(ok.length);
    expect(Math.min(...balances)).toBeGreaterThanOrEqual(0);
    // The last 60 fen cannot pay 70: a debit of exactly the rest empties the card.
    await post('/v1/redemptions/debit', {
      serial: card.serial,
      holder_ref: 'spender',
      amount: 10_000 % 70,
      reference: nextRef(),
    }).expect(200);
    expect(await cardRow(card.serial)).toMatchObject({ balance: '0', status: 'exhausted' });
    const [{ debits }] = await app.dataSource.query<Array<{ debits: number }>>(
      "SELECT count(*)::int AS debits FROM card_transactions WHERE serial = $1 AND kind = 'debit'",
      [card.serial],
    );
    expect(debits).toBe(ok.length + 1);
    expect(await ledgerOk()).toMatchObject({ ok: true });
  });

  it('concurrent retries of one reference debit once and all get the same answer', async () => {
    const card = anonymous[6];
    await post('/v1/redemptions/bind', {
      code: card.code,
      pin: card.pin,
      holder_ref: 'retrier',
      reference: nextRef(),
    }).expect(200);
    const body = { serial: card.serial, holder_ref: 'retrier', amount: 1_234, reference: nextRef('retry') };
    const answers = await Promise.all(Array.from({ length: 20 }, () => post('/v1/redemptions/debit', body)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((answer) => answer.body.id as string)).size).toBe(1);
    expect((await cardRow(card.serial)).balance).toBe(String(10_000 - 1_234));
    const [{ n }] = await app.dataSource.query<Array<{ n: number }>>(
      "SELECT count(*)::int AS n FROM card_transactions WHERE serial = $1 AND kind = 'debit'",
      [card.serial],
    );
    expect(n).toBe(1);
  });

  it("debits a holder's cards, soonest expiry first, and lists each card's transactions", async () => {
    const [first, second] = [anonymous[3], anonymous[4]];
    for (const card of [first, second]) {
      await post('/v1/redemptions/bind', {
        code: card.code,
        pin: card.pin,
        holder_ref: 'two-cards',
        reference: nextRef(),
      }).expect(200);
    }
    await app.dataSource.query("UPDATE cards SET expires_at = now() + interval '1 year' WHERE serial = $1", [
      second.serial,
    ]);
    const debit = await post('/v1/redemptions/debit', {
      holder_ref: 'two-cards',
      amount: 12_000,
      reference: nextRef(),
    }).expect(200);
    expect(debit.body.cards).toEqual([
      { serial: second.serial, amount: -10_000, balance_after: 0, status: 'exhausted' },
      { serial: first.serial, amount: -2_000, balance_after: 8_000, status: 'active' },
    ]);
    const over = await post('/v1/redemptions/debit', { holder_ref: 'two-cards', amount: 8_001, reference: nextRef() });
    expect(over.body).toMatchObject({ code: 'insufficient_balance', balance: 8_000 });
    // Reversal gives back to the last card spent first.
    const reversal = await post(`/v1/redemptions/${debit.body.id}/reverse`, {
      amount: 3_000,
      reference: nextRef(),
    }).expect(200);
    expect(reversal.body.cards).toEqual([
      { serial: first.serial, amount: 2_000, balance_after: 10_000, status: 'active' },
      { serial: second.serial, amount: 1_000, balance_after: 1_000, status: 'active' },
    ]);
    const listed = await app.http
      .get(`/v1/cards/${second.serial}/transactions`)
      .auth(channel, { type: 'bearer' })
      .expect(200);
    expect(listed.body.data.map((t: { kind: string; amount: number }) => [t.kind, t.amount])).toEqual([
      ['bind', 0],
      ['debit', -10_000],
      ['reverse', 1_000],
    ]);
  });

  it('binds a registered card only with the identity on record', async () => {
    const card = registered[0];
    const base = { code: card.code, pin: card.pin, holder_ref: 'named-holder' };
    const missing = await post('/v1/redemptions/bind', { ...base, reference: nextRef() }).expect(422);
    expect(missing.body.code).toBe('holder_identity_required');
    const wrong = await post('/v1/redemptions/bind', {
      ...base,
      holder_identity: { name: '李四', id_type: 'resident_id', id_number: TEST_PURCHASER.id_number },
      reference: nextRef(),
    }).expect(422);
    expect(wrong.body.code).toBe('holder_identity_mismatch');
    expect(await cardRow(card.serial)).toMatchObject({ status: 'issued', holder_ref: null });
    await post('/v1/redemptions/bind', {
      ...base,
      holder_identity: {
        name: TEST_PURCHASER.name,
        id_type: 'resident_id',
        id_number: TEST_PURCHASER.id_number.toLowerCase(),
      },
      reference: nextRef(),
    }).expect(200);
    expect(await cardRow(card.serial)).toMatchObject({ status: 'active', holder_ref: 'named-holder' });
  });

  it('never puts a code or PIN into an event, and the ledger verifies', async () => {
    const events = await app.dataSource.query<Array<{ data: unknown }>>(
      "SELECT data FROM events WHERE enterprise_id = $1 AND type LIKE 'card.%'",
      [enterprise],
    );
    expect(events.length).toBeGreaterThan(0);
    const text = JSON.stringify(events);
    for (const card of [...anonymous, ...registered]) expect(text).not.toContain(card.code);
    expect(await ledgerOk()).toMatchObject({ ok: true });
  });
});
