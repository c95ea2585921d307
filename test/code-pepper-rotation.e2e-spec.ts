import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { Scope } from '../src/common/access/scopes';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued, type CardWithSecret } from './support/cards';
import { createClient, createProduct, placePaidOrder } from './support/fixtures';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';

/** The pepper of an existing deployment (a bare CODE_PEPPER: the pepper p0), and the new one. */
const P0 = randomBytes(32);
const P1 = randomBytes(32);
const ONLY_P0 = P0.toString('base64');
const P1_THEN_P0 = `p1:${P1.toString('base64')},p0:${P0.toString('base64')}`;
const ONLY_P1 = `p1:${P1.toString('base64')}`;
const DATA_KEYS = `k1:${randomBytes(32).toString('base64')}`;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
/** The HMAC-SHA256 key of the index scheme before keyed BLAKE2b (cards whose code_key_id is a bare pepper id). */
const hmacKey = (pepper: Buffer, info: string) => Buffer.from(hkdfSync('sha256', pepper, Buffer.alloc(0), info, 32));

/**
 * CODE_PEPPER rotation: cards indexed under p0 (keyed BLAKE2b `p0.b2`, one under the earlier HMAC-SHA256 scheme
 * `p0`, and one from before pepper ids, raw p0) keep verifying and binding while the app runs with `p1,p0`; the
 * re-encryption run re-indexes every card under `p1.b2`; with p1 alone every card still verifies, binds and checks
 * its PIN. On a database of its own.
 */
describe('code-pepper rotation', () => {
  let database: ScratchDatabase;
  let app: TestApp | undefined;
  let jwtSigningKey: string | undefined;
  let channel: { id: string; client_secret: string };
  let cards: CardWithSecret[];
  let legacy: CardWithSecret;
  let hmacIndexed: CardWithSecret;
  let reference = 0;

  const current = () => {
    if (!app) throw new Error('no app running');
    return app;
  };

  async function start(pepper: string): Promise<void> {
    await app?.close();
    app = undefined;
    app = await startTestApp({
      DATABASE_URL: database.url,
      CODE_PEPPER: pepper,
      DATA_ENCRYPTION_KEYS: DATA_KEYS,
      ...(jwtSigningKey ? { JWT_SIGNING_KEY: jwtSigningKey } : {}),
    });
    jwtSigningKey = app.runtime.config.JWT_SIGNING_KEY;
  }

  async function channelPost(path: string, body: Record<string, unknown>) {
    const token = await current().tokenFor(channel.id, channel.client_secret);
    return current().http.post(path).auth(token, { type: 'bearer' }).send(body);
  }

  async function verify(card: CardWithSecret): Promise<number> {
    return (await channelPost('/v1/redemptions/verify', { code: card.code })).status;
  }

  async function bind(card: CardWithSecret, pin = card.pin): Promise<{ status: number; code?: string }> {
    const response = await channelPost('/v1/redemptions/bind', {
      code: card.code,
      pin,
      holder_ref: `holder-${card.serial}`,
      reference: `bind-${++reference}`,
    });
    return { status: response.status, code: (response.body as { code?: string }).code };
  }

  async function keyIdsOfCards(): Promise<Record<string, number>> {
    const rows = await current().dataSource.query<Array<{ key_id: string | null; cards: number }>>(
      'SELECT code_key_id AS key_id, count(*)::int AS cards FROM cards GROUP BY 1',
    );
    return Object.fromEntries(rows.map((row) => [row.key_id ?? 'NULL', row.cards]));
  }

  beforeAll(async () => {
    database = await createScratchDatabase('pepper');
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('phase 1, CODE_PEPPER p0: cards are indexed under p0, with separate blind-index and PIN keys', async () => {
    await start(ONLY_P0);
    const product = await createProduct(current());
    const placed = await placePaidOrder(current(), 'PEPPER-A', [
      { product_id: product.id, face_value: 10_000, quantity: 12 },
    ]);
    await waitForIssued(current(), placed.order.id);
    cards = await cardsWithSecrets(current(), placed.order.id);
    channel = await createClient(current(), { scopes: ['redemptions:write'] as Scope[] });
    expect(await keyIdsOfCards()).toEqual({ 'p0.b2': 12 });

    // The PIN digest is not keyed by the blind-index key (nor the pepper itself): one derived key each.
    const [row] = await current().dataSource.query<Array<{ code_hash: Buffer; pin_hash: Buffer }>>(
      'SELECT code_hash, pin_hash FROM cards WHERE serial = $1',
      [cards[0].serial],
    );
    expect(row.code_hash.equals(createHmac('sha256', P0).update(cards[0].code).digest())).toBe(false);
    expect(
      row.pin_hash.equals(createHmac('sha256', P0).update(`pin:${cards[0].serial}:${cards[0].pin}`).digest()),
    ).toBe(false);

    // One card as a version before pepper ids left it: both HMACs under the raw pepper, no key id.
    legacy = cards[11];
    await current().dataSource.query(
      'UPDATE cards SET code_hash = $2, pin_hash = $3, code_key_id = NULL WHERE serial = $1',
      [
        legacy.serial,
        createHmac('sha256', P0).update(legacy.code).digest(),
        createHmac('sha256', P0).update(`pin:${legacy.serial}:${legacy.pin}`).digest(),
      ],
    );
    // One card as a version before keyed BLAKE2b left it: HMAC-SHA256 under HKDF keys of p0, key id `p0`.
    hmacIndexed = cards[10];
    await current().dataSource.query(
      "UPDATE cards SET code_hash = $2, pin_hash = $3, code_key_id = 'p0' WHERE serial = $1",
      [
        hmacIndexed.serial,
        createHmac('sha256', hmacKey(P0, 'fuli/card-code-blind-index/v1')).update(hmacIndexed.code).digest(),
        createHmac('sha256', hmacKey(P0, 'fuli/card-pin-digest/v1'))
          .update(`pin:${hmacIndexed.serial}:${hmacIndexed.pin}`)
          .digest(),
      ],
    );
    expect(await verify(cards[0])).toBe(200);
    expect(await verify(legacy)).toBe(200);
    expect(await verify(hmacIndexed)).toBe(200);
    expect(await bind(cards[0])).toEqual({ status: 200, code: undefined });
  });

  it('phase 2, CODE_PEPPER p1,p0: old cards still verify and bind; new cards are indexed under p1', async () => {
    await start(P1_THEN_P0);
    expect(await verify(cards[1])).toBe(200);
    expect(await bind(cards[1], cards[1].pin === '000000' ? '000001' : '000000')).toEqual({
      status: 422,
      code: 'invalid_card_credentials',
    });
    expect((await bind(cards[1])).status).toBe(200);
    expect(await verify(legacy)).toBe(200);
    expect((await bind(legacy)).status).toBe(200);
    expect(await verify(hmacIndexed)).toBe(200);
    expect(await bind(hmacIndexed, hmacIndexed.pin === '000000' ? '000001' : '000000')).toEqual({
      status: 422,
      code: 'invalid_card_credentials',
    });

    const product = await createProduct(current());
    const placed = await placePaidOrder(current(), 'PEPPER-B', [
      { product_id: product.id, face_value: 10_000, quantity: 3 },
    ]);
    await waitForIssued(current(), placed.order.id);
    const fresh = await cardsWithSecrets(current(), placed.order.id);
    expect(await keyIdsOfCards()).toEqual({ 'p1.b2': 3, 'p0.b2': 10, p0: 1, NULL: 1 });
    expect((await bind(fresh[0])).status).toBe(200);

    const operator = await current().operatorToken();
    const usage = await current().http.get('/v1/admin/keys').auth(operator, { type: 'bearer' }).expect(200);
    expect(usage.body.code_peppers).toEqual([
      { key_id: 'p1', active: true, configured: true, cards: 3, removable: false },
      { key_id: 'p0', active: false, configured: true, cards: 11, removable: false },
      { key_id: 'legacy', active: false, configured: true, cards: 1, removable: false },
    ]);
    expect(JSON.stringify(usage.body)).not.toContain(P0.toString('base64').slice(0, 12));
  });

  it('phase 2: the re-encryption run re-indexes every card under p1', async () => {
    const operator = await current().operatorToken();
    const started = await current()
      .http.post('/v1/admin/keys/re-encryptions')
      .auth(operator, { type: 'bearer' })
      .send({ batch_size: 100 })
      .expect(202);
    expect(started.body).toMatchObject({ target_key_id: 'k1', target_code_key_id: 'p1.b2' });
    let run: { status: string; columns: Array<{ column: string; rows_reencrypted: number; keys: unknown[] }> };
    for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
      run = (
        await current()
          .http.get(`/v1/admin/keys/re-encryptions/${started.body.id as string}`)
          .auth(operator, { type: 'bearer' })
          .expect(200)
      ).body;
      if (run.status === 'completed' || run.status === 'failed' || Date.now() > deadline) break;
    }
    expect(run.status).toBe('completed');
    const reindexed = run.columns.find((column) => column.column === 'cards.code_hash')!;
    expect(reindexed).toMatchObject({ rows_reencrypted: 12 });
    expect(reindexed.keys).toHaveLength(4);
    expect(reindexed.keys).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key_id: 'p1.b2', rows_at_start: 3, rows_after: 15 }),
        expect.objectContaining({ key_id: 'legacy', rows_at_start: 1, reencrypted: 1, rows_after: 0 }),
        expect.objectContaining({ key_id: 'p0', rows_at_start: 1, reencrypted: 1, rows_after: 0 }),
        expect.objectContaining({ key_id: 'p0.b2', rows_at_start: 10, reencrypted: 10, rows_after: 0 }),
      ]),
    );
    expect(await keyIdsOfCards()).toEqual({ 'p1.b2': 15 });
    const usage = await current().http.get('/v1/admin/keys').auth(operator, { type: 'bearer' }).expect(200);
    expect(usage.body.code_peppers).toEqual([
      { key_id: 'p1', active: true, configured: true, cards: 15, removable: false },
      { key_id: 'p0', active: false, configured: true, cards: 0, removable: true },
    ]);
  });

  it('phase 3, CODE_PEPPER p1 alone: every card still verifies, binds and checks its PIN', async () => {
    await start(ONLY_P1);
    for (const card of cards.slice(2, 11)) expect(await verify(card)).toBe(200);
    expect(await bind(cards[2], cards[2].pin === '000000' ? '000001' : '000000')).toEqual({
      status: 422,
      code: 'invalid_card_credentials',
    });
    expect((await bind(cards[2])).status).toBe(200);
    expect(await verify(legacy)).toBe(200);
    expect(await verify(hmacIndexed)).toBe(200);
    expect((await bind(hmacIndexed)).status).toBe(200);
    expect(await verify(cards[0])).toBe(200);
  });
});
