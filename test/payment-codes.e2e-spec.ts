import { randomBytes } from 'node:crypto';
import { DataCipher } from '../src/common/crypto/data-cipher.service';
import { parsePaymentCode, paymentCodeOf, paymentCodeStep } from '../src/redemption/payment-code';
import { paymentCodeSecretContext } from '../src/redemption/payment-code-keys';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued, type CardWithSecret } from './support/cards';
import { createClient, createProduct, placePaidOrder } from './support/fixtures';

const WINDOW_SECONDS = 60;

/**
 * Dynamic payment codes (README, "Payment codes"): a channel asks one for a card it bound or a holder's wallet, the
 * POS debits with it; it is spent with the debit, once, and refused when replayed, expired or another channel's.
 */
describe('payment codes', () => {
  let app: TestApp;
  let channelA: string;
  let channelB: string;
  let cards: CardWithSecret[];
  let ref = 0;
  const nextRef = () => `pc-${Date.now()}-${ref++}`;

  const post = (token: string, path: string, body: object) =>
    app.http.post(path).auth(token, { type: 'bearer' }).send(body);
  const bind = (card: CardWithSecret, holder: string) =>
    post(channelA, '/v1/redemptions/bind', {
      code: card.code,
      pin: card.pin,
      holder_ref: holder,
      reference: nextRef(),
    });
  const codeFor = async (body: object, token = channelA) =>
    (await post(token, '/v1/redemptions/payment-codes', body).expect(200)).body as {
      code: string;
      qr_payload: string;
      serial: string | null;
      expires_at: string;
      refresh_at: string;
    };
  const payWith = (code: string, amount: number, token = channelA, reference = nextRef()) =>
    post(token, '/v1/redemptions/debit', { payment_code: code, amount, reference });
  const balance = async (serial: string) =>
    Number(
      (
        await app.dataSource.query<Array<{ balance: string }>>(
          'SELECT balance::text AS balance FROM cards WHERE serial = $1',
          [serial],
        )
      )[0].balance,
    );
  /** The key's code for another window than now's (the test opens the sealed secret as the app does). */
  const codeInWindow = async (code: string, windowsBack: number) => {
    const { keyNumber } = parsePaymentCode(code)!;
    const [key] = await app.dataSource.query<Array<{ secret_sealed: string; uses: string }>>(
      'SELECT secret_sealed, uses::text AS uses FROM payment_code_keys WHERE number = $1',
      [keyNumber],
    );
    const secret = Buffer.from(
      app.app.get(DataCipher).decrypt(key.secret_sealed, paymentCodeSecretContext(keyNumber)),
      'base64',
    );
    const step = paymentCodeStep(Date.now(), WINDOW_SECONDS);
    return paymentCodeOf(keyNumber, secret, step - windowsBack, Number(key.uses));
  };

  beforeAll(async () => {
    app = await startTestApp({
      ISSUANCE_CHUNK_SIZE: '100',
      RATE_LIMIT_REQUESTS: '100000',
      PAYMENT_CODE_WINDOW_SECONDS: String(WINDOW_SECONDS),
    });
    const product = await createProduct(app);
    const placed = await placePaidOrder(app, `PC-${randomBytes(4).toString('hex')}`, [
      { product_id: product.id, face_value: 10_000, quantity: 8 },
    ]);
    await waitForIssued(app, placed.order.id);
    cards = await cardsWithSecrets(app, placed.order.id);
    const a = await createClient(app, { scopes: ['redemptions:write'], name: 'pos channel A' });
    const b = await createClient(app, { scopes: ['redemptions:write'], name: 'pos channel B' });
    channelA = await app.tokenFor(a.id, a.client_secret);
    channelB = await app.tokenFor(b.id, b.client_secret);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('a bound card gets an 18-digit code whose QR payload is the code; the POS debits with it once', async () => {
    const card = cards[0];
    await bind(card, 'alice').expect(200);
    const issued = await codeFor({ serial: card.serial, holder_ref: 'alice' });
    expect(issued.code).toMatch(/^68\d{16}$/);
    expect(issued.qr_payload).toBe(issued.code);
    expect(issued.serial).toBe(card.serial);
    expect(Date.parse(issued.expires_at) - Date.parse(issued.refresh_at)).toBe(WINDOW_SECONDS * 1000);
    // The same window, nothing spent: the same code.
    const again = await codeFor({ serial: card.serial, holder_ref: 'alice' });
    if (again.refresh_at === issued.refresh_at) expect(again.code).toBe(issued.code);

    const reference = nextRef();
    const paid = await payWith(issued.code, 1_500, channelA, reference).expect(200);
    expect(paid.body).toMatchObject({ kind: 'debit', holder_ref: 'alice', amount: 1_500 });
    expect(paid.body.cards).toEqual([{ serial: card.serial, amount: -1_500, balance_after: 8_500, status: 'active' }]);
    expect(JSON.stringify(paid.body)).not.toContain(issued.code);
    // A retry of the same request is answered again; the code under another reference is refused.
    expect((await payWith(issued.code, 1_500, channelA, reference).expect(200)).body.id).toBe(paid.body.id);
    const replayed = await payWith(issued.code, 1_500).expect(409);
    expect(replayed.body.code).toBe('payment_code_used');
    expect(await balance(card.serial)).toBe(8_500);
    // The next code, in the same window, is another one.
    const next = await codeFor({ serial: card.serial, holder_ref: 'alice' });
    expect(next.code).not.toBe(issued.code);
    await payWith(next.code, 500).expect(200);
    expect(await balance(card.serial)).toBe(8_000);
    // Nothing stores or logs the code: not the redemption, its event or its audit record.
    const [stored] = await app.dataSource.query<Array<{ n: number }>>(
      `SELECT (SELECT count(*) FROM redemptions WHERE response::text LIKE $1)
            + (SELECT count(*) FROM events WHERE data::text LIKE $1)
            + (SELECT count(*) FROM audit_records WHERE data::text LIKE $1) AS n`,
      [`%${issued.code.slice(2)}%`],
    );
    expect(Number(stored.n)).toBe(0);
  });

  it('a code used under 50 concurrent debits succeeds once', async () => {
    const card = cards[1];
    await bind(card, 'bob').expect(200);
    const { code } = await codeFor({ serial: card.serial, holder_ref: 'bob' });
    const answers = await Promise.all(Array.from({ length: 50 }, () => payWith(code, 100)));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(49);
    expect(answers.filter((answer) => answer.status === 409).every((a) => a.body.code === 'payment_code_used')).toBe(
      true,
    );
    expect(await balance(card.serial)).toBe(9_900);
    const [row] = await app.dataSource.query<Array<{ n: number }>>(
      "SELECT count(*)::int AS n FROM card_transactions WHERE serial = $1 AND kind = 'debit'",
      [card.serial],
    );
    expect(row.n).toBe(1);
  });

  it("accepts the previous window's code, refuses older ones as expired, and another channel's as invalid", async () => {
    const card = cards[2];
    await bind(card, 'carol').expect(200);
    const { code } = await codeFor({ serial: card.serial, holder_ref: 'carol' });
    const expired = await payWith(await codeInWindow(code, 2), 100).expect(422);
    expect(expired.body.code).toBe('payment_code_expired');
    const foreign = await payWith(code, 100, channelB).expect(422);
    expect(foreign.body.code).toBe('payment_code_invalid');
    expect(await balance(card.serial)).toBe(10_000);
    await payWith(await codeInWindow(code, 1), 100).expect(200);
    expect(await balance(card.serial)).toBe(9_900);
    // Spent in the previous window: the current window's code for the same count is no longer valid either.
    expect((await payWith(code, 100).expect(409)).body.code).toBe('payment_code_used');
    const wrong = await payWith(`${code.slice(0, 11)}${code.slice(11) === '0000000' ? '0000001' : '0000000'}`, 100);
    expect(wrong.status).toBe(422);
    expect(['payment_code_invalid', 'payment_code_expired']).toContain(wrong.body.code);
    expect((await payWith('13' + code.slice(2), 100).expect(422)).body.code).toBe('payment_code_invalid');
  });

  it("a refused debit does not spend the code; a wallet code spends the holder's cards", async () => {
    const [first, second] = [cards[3], cards[4]];
    await bind(first, 'dave').expect(200);
    await bind(second, 'dave').expect(200);
    const wallet = await codeFor({ holder_ref: 'dave' });
    expect(wallet.serial).toBeNull();
    const tooMuch = await payWith(wallet.code, 50_000).expect(422);
    expect(tooMuch.body.code).toBe('insufficient_balance');
    const paid = await payWith(wallet.code, 12_000).expect(200);
    expect(paid.body.cards).toHaveLength(2);
    expect((await balance(first.serial)) + (await balance(second.serial))).toBe(8_000);
    expect((await payWith(wallet.code, 1).expect(409)).body.code).toBe('payment_code_used');

    // The wallet spent the first card (same expiry: serial order) to zero, then 2,000 of the second.
    expect(await balance(second.serial)).toBe(8_000);
    const cardCode = await codeFor({ serial: second.serial, holder_ref: 'dave' });
    const over = await payWith(cardCode.code, 9_000).expect(422);
    expect(over.body.code).toBe('insufficient_balance');
    await payWith(cardCode.code, 100).expect(200);
    expect(await balance(second.serial)).toBe(7_900);
  });

  it("a wallet code used under 20 concurrent debits succeeds once: the holder's cards are spent once", async () => {
    const [first, second] = [cards[6], cards[7]];
    await bind(first, 'gina').expect(200);
    await bind(second, 'gina').expect(200);
    const { code } = await codeFor({ holder_ref: 'gina' });
    const answers = await Promise.all(Array.from({ length: 20 }, () => payWith(code, 500)));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
    expect(answers.filter((answer) => answer.status === 409 && answer.body.code === 'payment_code_used')).toHaveLength(
      19,
    );
    expect((await balance(first.serial)) + (await balance(second.serial))).toBe(19_500);
  });

  it('codes are only for cards this channel bound to the holder, and a debit takes a code or serial + holder', async () => {
    const card = cards[5];
    await bind(card, 'erin').expect(200);
    expect(
      (await post(channelB, '/v1/redemptions/payment-codes', { serial: card.serial, holder_ref: 'erin' }).expect(404))
        .body.code,
    ).toBe('card_not_found');
    expect(
      (await post(channelA, '/v1/redemptions/payment-codes', { serial: card.serial, holder_ref: 'frank' }).expect(422))
        .body.code,
    ).toBe('card_holder_mismatch');
    expect((await post(channelB, '/v1/redemptions/payment-codes', { holder_ref: 'erin' }).expect(422)).body.code).toBe(
      'holder_has_no_cards',
    );
    const { code } = await codeFor({ serial: card.serial, holder_ref: 'erin' });
    const both = await post(channelA, '/v1/redemptions/debit', {
      payment_code: code,
      serial: card.serial,
      holder_ref: 'erin',
      amount: 1,
      reference: nextRef(),
    }).expect(400);
    expect(both.body.errors).toEqual([expect.objectContaining({ field: 'payment_code' })]);
    const short = await payWith(code.slice(1), 1).expect(400);
    expect(short.body.errors).toEqual([expect.objectContaining({ field: 'payment_code' })]);
  });
});
