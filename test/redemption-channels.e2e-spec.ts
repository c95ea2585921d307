import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { appDataSourceOptions } from '../src/entities';
import { runMigrations } from '../src/database/migrations';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, issuedCardsOfBothKinds, waitForIssued, type CardWithSecret } from './support/cards';
import { createProduct, placePaidOrder, redemptionChannel, TEST_PURCHASER } from './support/fixtures';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';

/**
 * Redemption channels are isolated: a card bound through a channel belongs to it, and holder references are each
 * channel's own. Another channel cannot verify, debit, reverse onto or list a card it did not bind, by serial or by
 * holder: the card does not exist for it (404 card_not_found), and nothing changes.
 */
describe('redemption channels', () => {
  let app: TestApp;
  let channelA: string;
  let channelB: string;
  let cards: CardWithSecret[];
  let ref = 0;
  const nextRef = () => `chan-${Date.now()}-${ref++}`;

  const post = (token: string, path: string, body: object) =>
    app.http.post(path).auth(token, { type: 'bearer' }).send(body);
  const bind = (token: string, card: CardWithSecret, holder: string) =>
    post(token, '/v1/redemptions/bind', { code: card.code, pin: card.pin, holder_ref: holder, reference: nextRef() });
  const debit = (token: string, body: object) =>
    post(token, '/v1/redemptions/debit', { reference: nextRef(), ...body });
  const balance = async (serial: string) =>
    Number(
      (
        await app.dataSource.query<Array<{ balance: string }>>(
          'SELECT balance::text AS balance FROM cards WHERE serial = $1',
          [serial],
        )
      )[0].balance,
    );
  const channelToken = async (name: string) => (await redemptionChannel(app, name)).token;

  beforeAll(async () => {
    app = await startTestApp({ ISSUANCE_CHUNK_SIZE: '100', RATE_LIMIT_REQUESTS: '100000' });
    const product = await createProduct(app);
    const placed = await placePaidOrder(app, `CHAN-${randomBytes(4).toString('hex')}`, [
      { product_id: product.id, face_value: 10_000, quantity: 5 },
    ]);
    await waitForIssued(app, placed.order.id);
    cards = await cardsWithSecrets(app, placed.order.id);
    channelA = await channelToken('channel A');
    channelB = await channelToken('channel B');
  });
  afterAll(async () => {
    await app?.close();
  });

  it('channel B cannot debit, list, verify, bind or reverse a card bound by channel A, by serial or by holder', async () => {
    const [card, second] = cards;
    await bind(channelA, card, 'alice').expect(200);
    await bind(channelA, second, 'alice').expect(200);
    const spent = await debit(channelA, { serial: card.serial, holder_ref: 'alice', amount: 1_000 }).expect(200);

    // By serial, even with the right holder reference: no such card for B.
    const bySerial = await debit(channelB, { serial: card.serial, holder_ref: 'alice', amount: 500 }).expect(404);
    expect(bySerial.body).toMatchObject({ status: 404, code: 'card_not_found' });
    expect(bySerial.body).not.toHaveProperty('balance');
    // By holder: B's 'alice' is another account, which has no cards.
    const byHolder = await debit(channelB, { holder_ref: 'alice', amount: 500 }).expect(422);
    expect(byHolder.body.code).toBe('holder_has_no_cards');
    expect(await balance(card.serial)).toBe(9_000);
    expect(await balance(second.serial)).toBe(10_000);

    const listed = await app.http.get(`/v1/cards/${card.serial}/transactions`).auth(channelB, { type: 'bearer' });
    expect(listed.status).toBe(404);
    expect(listed.body.code).toBe('card_not_found');
    await app.http.get(`/v1/cards/${card.serial}/transactions`).auth(channelA, { type: 'bearer' }).expect(200);

    // With the code itself: B is told nothing about the card (no serial, no balance), nor can it take it over.
    const verified = await post(channelB, '/v1/redemptions/verify', { code: card.code }).expect(404);
    expect(verified.body.code).toBe('card_not_found');
    expect(JSON.stringify(verified.body)).not.toContain(card.serial);
    expect((await post(channelA, '/v1/redemptions/verify', { code: card.code }).expect(200)).body).toMatchObject({
      serial: card.serial,
      bound: true,
      balance: 9_000,
    });
    expect((await bind(channelB, card, 'alice').expect(409)).body.code).toBe('card_already_bound');

    // A's debit is A's alone to reverse.
    await post(channelB, `/v1/redemptions/${spent.body.id}/reverse`, { reference: nextRef() }).expect(404);
    expect(await balance(card.serial)).toBe(9_000);
    await post(channelA, `/v1/redemptions/${spent.body.id}/reverse`, { reference: nextRef() }).expect(200);
    expect(await balance(card.serial)).toBe(10_000);

    const [row] = await app.dataSource.query<Array<{ n: number }>>(
      "SELECT count(*)::int AS n FROM card_transactions WHERE serial = $1 AND kind = 'debit'",
      [card.serial],
    );
    expect(row.n).toBe(1);
  });

  it('a debit by serial needs the holder reference the card was bound to', async () => {
    const card = cards[2];
    await bind(channelA, card, 'bob').expect(200);
    const missing = await debit(channelA, { serial: card.serial, amount: 100 }).expect(400);
    expect(missing.body.errors).toEqual([expect.objectContaining({ field: 'holder_ref' })]);
    const wrong = await debit(channelA, { serial: card.serial, holder_ref: 'mallory', amount: 100 }).expect(422);
    expect(wrong.body.code).toBe('card_holder_mismatch');
    expect(await balance(card.serial)).toBe(10_000);
    await debit(channelA, { serial: card.serial, holder_ref: 'bob', amount: 100 }).expect(200);
    expect(await balance(card.serial)).toBe(9_900);
  });

  it("holder references are per channel: each channel's 'carol' spends only the cards it bound", async () => {
    const [ofA, ofB] = [cards[3], cards[4]];
    await bind(channelA, ofA, 'carol').expect(200);
    await bind(channelB, ofB, 'carol').expect(200);
    const overA = await debit(channelA, { holder_ref: 'carol', amount: 15_000 }).expect(422);
    expect(overA.body).toMatchObject({ code: 'insufficient_balance', balance: 10_000 });
    const spentB = await debit(channelB, { holder_ref: 'carol', amount: 4_000 }).expect(200);
    expect(spentB.body.cards).toEqual([{ serial: ofB.serial, amount: -4_000, balance_after: 6_000, status: 'active' }]);
    expect(await balance(ofA.serial)).toBe(10_000);
    const [bound] = await app.dataSource.query<Array<{ a: string; b: string }>>(
      'SELECT (SELECT bound_client_id FROM cards WHERE serial = $1) AS a, (SELECT bound_client_id FROM cards WHERE serial = $2) AS b',
      [ofA.serial, ofB.serial],
    );
    expect(bound.a).not.toBe(bound.b);
  });
});

/**
 * Cards bound before cards belonged to channels: the migration gives each the channel of its own bind movement, and
 * a replacement card the channel of the card it replaces; a bound card it cannot trace stops it.
 */
describe('migration of cards bound before channels owned them', () => {
  const MIGRATION = 'ChannelCards1796522632021';
  let database: ScratchDatabase;

  beforeAll(async () => {
    database = await createScratchDatabase('channel_cards');
  });
  afterAll(async () => {
    await database?.drop();
  });

  /** Reverts migrations, newest first, until the channel migration is undone: the schema as it was before it. */
  const revertChannelCards = async () => {
    const dataSource = await new DataSource(appDataSourceOptions(database.url, 2)).initialize();
    try {
      for (;;) {
        const applied = await dataSource.query<Array<{ name: string }>>(
          'SELECT name FROM typeorm_migrations WHERE name = $1',
          [MIGRATION],
        );
        if (applied.length === 0) return;
        await dataSource.undoLastMigration({ transaction: 'each' });
      }
    } finally {
      await dataSource.destroy();
    }
  };
  const query = async <T>(sql: string, parameters: unknown[] = []): Promise<T[]> => {
    const dataSource = await new DataSource(appDataSourceOptions(database.url, 1)).initialize();
    try {
      return await dataSource.query<T[]>(sql, parameters);
    } finally {
      await dataSource.destroy();
    }
  };

  it('backfills the binding channel from bind movements and along replacements, and refuses an untraceable card', async () => {
    const app = await startTestApp({ DATABASE_URL: database.url, ISSUANCE_CHUNK_SIZE: '100' });
    let channelId: string;
    let serials: { anonymous: string; registered: string; replacement: string; unbound: string };
    try {
      const issued = await issuedCardsOfBothKinds(app, 'MIG', { anonymous: 2, registered: 1 });
      const [anonymous, unbound] = issued.anonymous;
      const [registered] = issued.registered;
      const channel = await redemptionChannel(app, 'legacy channel');
      channelId = channel.id;
      const token = channel.token;
      for (const card of [anonymous, registered]) {
        await app.http
          .post('/v1/redemptions/bind')
          .auth(token, { type: 'bearer' })
          .send({
            code: card.code,
            pin: card.pin,
            holder_ref: 'legacy-holder',
            reference: randomBytes(8).toString('hex'),
            ...(card.cardType === 'registered' ? { holder_identity: { ...TEST_PURCHASER, phone: undefined } } : {}),
          })
          .expect(200);
      }
      const lost = await app.http
        .post(`/v1/cards/${registered.serial}/report-loss`)
        .auth(issued.token, { type: 'bearer' })
        .send({})
        .expect(200);
      serials = {
        anonymous: anonymous.serial,
        registered: registered.serial,
        replacement: lost.body.replacement.serial as string,
        unbound: unbound.serial,
      };
    } finally {
      await app.close();
    }

    const channelsOf = async () =>
      Object.fromEntries(
        (
          await query<{ serial: string; bound_client_id: string | null }>(
            'SELECT serial::text AS serial, bound_client_id FROM cards WHERE serial = ANY($1::bigint[])',
            [Object.values(serials)],
          )
        ).map((row) => [row.serial, row.bound_client_id]),
      );

    await revertChannelCards();
    await runMigrations(database.url);
    expect(await channelsOf()).toEqual({
      [serials.anonymous]: channelId,
      [serials.registered]: channelId,
      [serials.replacement]: channelId,
      [serials.unbound]: null,
    });

    // A bound card with no bind movement to take its channel from: the migration stops, and says what to do.
    await revertChannelCards();
    await query("DELETE FROM card_transactions WHERE serial = $1 AND kind = 'bind'", [serials.anonymous]);
    await expect(runMigrations(database.url)).rejects.toThrow(
      new RegExp(`1 bound card\\(s\\) have no bind movement to take their channel from \\(${serials.anonymous}\\)`),
    );
    const [{ enterprise_id }] = await query<{ enterprise_id: string }>(
      'SELECT b.enterprise_id FROM cards c JOIN issuance_batches b ON b.id = c.batch_id WHERE c.serial = $1',
      [serials.anonymous],
    );
    await query(
      `INSERT INTO card_transactions (serial, enterprise_id, kind, amount, balance_after, holder_ref, client_id)
       VALUES ($1, $2, 'bind', 0, 10000, 'legacy-holder', $3)`,
      [serials.anonymous, enterprise_id, channelId],
    );
    await runMigrations(database.url);
    expect((await channelsOf())[serials.anonymous]).toBe(channelId);
  });
});
