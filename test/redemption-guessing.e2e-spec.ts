import type { AuditService } from '../src/audit/audit.service';
import { TransactionalConnection } from '../src/database/transactional-connection';
import { RedemptionRepository } from '../src/redemption/redemption.repository';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { generateCodes } from '../src/cards/card-code';
import { PostgresAttemptStore, RedisAttemptStore, type AttemptStore } from '../src/redemption/attempt-limiter';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued, wrongPin, type CardWithSecret } from './support/cards';
import { createClient, createProduct, placePaidOrder } from './support/fixtures';
import { TEST_REDIS_URL } from './support/services';

/**
 * Guessing resistance: failed attempts counted per holder and per end user (429 for the cool-down), per card (frozen
 * after too many wrong PINs, through any channel), and per channel (a slow-down and an alert, never a lockout of the
 * channel's honest holders).
 */
describe('guessing lockout', () => {
  let app: TestApp;
  let hr: string;
  let cards: CardWithSecret[];
  let nextCard = 0;
  const SLOWDOWN_MS = 400;

  beforeAll(async () => {
    app = await startTestApp({
      ISSUANCE_CHUNK_SIZE: '100',
      RATE_LIMIT_REQUESTS: '100000',
      REDEMPTION_HOLDER_FAILURE_LIMIT: '10',
      REDEMPTION_CLIENT_FAILURE_LIMIT: '15',
      REDEMPTION_IP_FAILURE_LIMIT: '1000',
      REDEMPTION_END_USER_FAILURE_LIMIT: '5',
      REDEMPTION_SLOWDOWN_MS: String(SLOWDOWN_MS),
    });
    const product = await createProduct(app);
    const placed = await placePaidOrder(
      app,
      `GUESS-${Date.now()}`,
      [{ product_id: product.id, face_value: 10_000, quantity: 8 }],
      ['orders:write', 'orders:read', 'cards:read', 'cards:write'],
    );
    hr = placed.token;
    await waitForIssued(app, placed.order.id);
    cards = await cardsWithSecrets(app, placed.order.id);
  });
  afterAll(async () => {
    await app?.close();
  });

  const channel = async () => {
    const client = await createClient(app, {
      scopes: ['redemptions:write'],
      name: `channel ${randomBytes(3).toString('hex')}`,
    });
    return { id: client.id, token: await app.tokenFor(client.id, client.client_secret) };
  };
  const metric = async (name: string, scope: string) => {
    const text = (await app.metrics.get('/metrics').expect(200)).text;
    const match = new RegExp(`^${name}\\{scope="${scope}"\\} (\\d+)`, 'm').exec(text);
    return Number(match?.[1] ?? NaN);
  };
  const lockouts = (scope: string) => metric('redemption_lockouts_total', scope);
  const underAttack = (scope: string) => metric('redemption_channel_under_attack_total', scope);
  const bind = (
    token: string,
    body: { code: string; pin: string; holder_ref?: string; end_user?: object },
    endUserIp?: string,
  ) => {
    const request = app.http.post('/v1/redemptions/bind').auth(token, { type: 'bearer' });
    if (endUserIp) void request.set('X-End-User-IP', endUserIp);
    return request.send({
      holder_ref: randomBytes(6).toString('hex'),
      reference: randomBytes(8).toString('hex'),
      ...body,
    });
  };
  const unknownCode = () => ({ code: generateCodes(1)[0], pin: '123456' });
  const cardStatus = async (serial: string) =>
    (await app.dataSource.query<Array<{ status: string }>>('SELECT status FROM cards WHERE serial = $1', [serial]))[0]
      .status;

  it('locks a holder account out after 10 failures, even for the right code and PIN, and counts the lockout', async () => {
    const card = cards[nextCard++];
    const { token } = await channel();
    const before = await lockouts('holder');
    for (let i = 0; i < 10; i++) {
      const answer = await bind(token, { ...unknownCode(), holder_ref: 'guesser' }).expect(422);
      expect(answer.body.code).toBe('invalid_card_credentials');
    }
    const locked = await bind(token, { code: card.code, pin: card.pin, holder_ref: 'guesser' }).expect(429);
    expect(locked.body).toMatchObject({ code: 'too_many_failed_attempts', status: 429 });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(500);
    expect(await lockouts('holder')).toBe(before + 1);
    expect(await cardStatus(card.serial)).toBe('issued');

    // Another holder of the same channel is not locked out.
    await bind(token, { code: card.code, pin: card.pin, holder_ref: 'honest' }).expect(200);
  });

  it('freezes a card after 5 wrong PINs through any channels; refuses it without a PIN oracle until unfrozen', async () => {
    const card = cards[nextCard++];
    const [first, second] = [await channel(), await channel()];
    const before = await lockouts('card');
    // 3 through one channel and 2 through another, each under a holder reference of its own.
    for (const token of [first.token, first.token, first.token, second.token]) {
      await bind(token, { code: card.code, pin: wrongPin(card.pin) }).expect(422);
    }
    expect(await cardStatus(card.serial)).toBe('issued');
    const fifth = await bind(second.token, { code: card.code, pin: wrongPin(card.pin) }).expect(422);
    expect(fifth.body.code).toBe('invalid_card_credentials');
    expect(await cardStatus(card.serial)).toBe('frozen');
    expect(await lockouts('card')).toBe(before + 1);
    const events = await app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
      "SELECT data FROM events WHERE type = 'card.frozen' AND data->>'serial' = $1",
      [card.serial],
    );
    expect(events.map((event) => event.data)).toEqual([
      expect.objectContaining({ serial: card.serial, reason: 'pin_attempts', amount: 0, balance_after: 10_000 }),
    ]);
    expect(JSON.stringify(events)).not.toContain(card.code);

    // Frozen: the right PIN and a wrong one get the same answer, through any channel.
    const right = await bind(first.token, { code: card.code, pin: card.pin }).expect(409);
    const wrong = await bind(second.token, { code: card.code, pin: wrongPin(card.pin) }).expect(409);
    expect([right.body.code, wrong.body.code]).toEqual(['card_frozen', 'card_frozen']);

    // Its enterprise unfreezes it; the count starts again, and the right PIN binds it.
    expect(
      (await app.http.post(`/v1/cards/${card.serial}/unfreeze`).auth(hr, { type: 'bearer' }).send({}).expect(200)).body
        .status,
    ).toBe('issued');
    await bind(first.token, { code: card.code, pin: wrongPin(card.pin) }).expect(422);
    expect(await cardStatus(card.serial)).toBe('issued');
    await bind(first.token, { code: card.code, pin: card.pin, holder_ref: 'owner' }).expect(200);
    expect(await cardStatus(card.serial)).toBe('active');
  });

  it('slows a channel past its budget down and raises channel.under_attack, without locking out its holders', async () => {
    const { id, token } = await channel();
    const verify = (code: string) =>
      app.http.post('/v1/redemptions/verify').auth(token, { type: 'bearer' }).send({ code });
    // A wrong check character is refused before anything is counted or read.
    const typo = generateCodes(1)[0];
    const malformed = typo.slice(0, 15) + (typo[15] === '0' ? '1' : '0');
    const queries: string[] = [];
    // Every SQL statement the app sends, through either entry point.
    const spies = [app.dataSource, app.dataSource.manager].map((target) => {
      const holder = target as unknown as { query: (...args: unknown[]) => Promise<unknown> };
      const original = holder.query.bind(target);
      return jest.spyOn(holder, 'query').mockImplementation((...args: unknown[]) => {
        queries.push(String(args[0]));
        return original(...args);
      });
    });
    try {
      for (let i = 0; i < 20; i++) expect((await verify(malformed)).body.code).toBe('invalid_card_code');
      expect(queries.filter((sql) => /cards|redemption_attempt/.test(sql))).toEqual([]);
      await verify(generateCodes(1)[0]).expect(422);
      expect(queries.some((sql) => sql.includes('code_hash'))).toBe(true);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }

    // Made-up holders guessing, 15 failures in all: the channel's budget.
    const before = await underAttack('client');
    for (let i = 0; i < 13; i++) await bind(token, unknownCode()).expect(422);
    await verify(generateCodes(1)[0]).expect(422);
    expect(await underAttack('client')).toBe(before + 1);

    // Past it: still answered, each a little later; an honest holder still binds.
    const card = cards[nextCard++];
    let slowed = Date.now();
    await verify(generateCodes(1)[0]).expect(422);
    expect(Date.now() - slowed).toBeGreaterThanOrEqual(SLOWDOWN_MS - 20);
    slowed = Date.now();
    const honest = await bind(token, { code: card.code, pin: card.pin, holder_ref: 'honest' }).expect(200);
    expect(Date.now() - slowed).toBeGreaterThanOrEqual(SLOWDOWN_MS - 20);
    expect(honest.body.cards[0]).toMatchObject({ serial: card.serial, status: 'active' });
    for (let i = 0; i < 3; i++) await bind(token, unknownCode()).expect(422);

    // One alert for the operator per slow-down, naming the channel: in the audit trail and the metric.
    expect(await underAttack('client')).toBe(before + 1);
    const audit = await app.http
      .get('/v1/admin/audit')
      .query({ action: 'channel.under_attack', object_id: id })
      .auth(await app.operatorToken(), { type: 'bearer' })
      .expect(200);
    expect(audit.body.data).toEqual([
      expect.objectContaining({
        action: 'channel.under_attack',
        object_type: 'api_client',
        object_id: id,
        data: expect.objectContaining({ summary: expect.objectContaining({ failures: 15 }) }),
      }),
    ]);
  });

  it('locks out one end user, by the IP and by the device id the channel passes, not its other users', async () => {
    const { token } = await channel();
    const before = await lockouts('end_user_ip');
    for (let i = 0; i < 5; i++) await bind(token, unknownCode(), '198.51.100.9').expect(422);
    const [card, other] = [cards[nextCard++], cards[nextCard++]];
    const byHeader = await bind(token, { code: card.code, pin: card.pin }, '198.51.100.9').expect(429);
    expect(byHeader.body.code).toBe('too_many_failed_attempts');
    // The body's end_user.ip is the same end user.
    await bind(token, { code: card.code, pin: card.pin, end_user: { ip: '198.51.100.9' } }).expect(429);
    expect(await lockouts('end_user_ip')).toBe(before + 1);

    for (let i = 0; i < 5; i++) {
      await bind(token, { ...unknownCode(), end_user: { ip: '198.51.100.10', device_id: 'phone-1' } }).expect(422);
    }
    // 'phone-1' is locked out from any IP; the IP it used has 5 failures too.
    await bind(token, { code: card.code, pin: card.pin, end_user: { device_id: 'phone-1' } }).expect(429);
    await bind(token, { code: card.code, pin: card.pin, end_user: { ip: '198.51.100.10' } }).expect(429);

    // Another end user of the same channel binds.
    await bind(token, { code: card.code, pin: card.pin, end_user: { ip: '203.0.113.5', device_id: 'phone-2' } }).expect(
      200,
    );
    await bind(token, { code: other.code, pin: other.pin }, '2001:db8::1').expect(200);

    const bad = await bind(token, { code: card.code, pin: card.pin }, 'not-an-ip').expect(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: 'X-End-User-IP' })]);
    const badBody = await bind(token, { code: card.code, pin: card.pin, end_user: { ip: '999.1.1.1' } }).expect(400);
    expect(badBody.body.errors).toEqual([expect.objectContaining({ field: 'end_user.ip' })]);
  });
});

/** The two counter stores behave alike: a fixed window, the limit-th failure blocks, exactly once. */
describe.each(['postgres', 'redis'] as const)('attempt store on %s', (backend) => {
  let store: AttemptStore;
  let dataSource: DataSource | undefined;
  const redisAvailable = process.env.TEST_REDIS_AVAILABLE === '1';

  beforeAll(async () => {
    if (backend === 'postgres') {
      dataSource = new DataSource({ type: 'postgres', url: process.env.TEST_DATABASE_URL });
      await dataSource.initialize();
      // Only the counters' methods are used: no audit records.
      store = new PostgresAttemptStore(
        new RedemptionRepository(new TransactionalConnection(dataSource), {} as AuditService),
      );
    } else if (redisAvailable) {
      store = new RedisAttemptStore(TEST_REDIS_URL);
    }
  });
  afterAll(async () => {
    await store?.close();
    await dataSource?.destroy();
  });

  it('counts failures in a window, blocks at the limit exactly once under concurrency, and expires the block', async () => {
    if (backend === 'redis' && !redisAvailable) return;
    const key = `test:${randomBytes(6).toString('hex')}`;
    expect(await store.blockedForMs([key])).toBe(0);
    const results = await Promise.all(Array.from({ length: 12 }, () => store.fail(key, 5, 60_000, 1_500)));
    expect(results.map((r) => r.failures).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(results.filter((r) => r.newlyBlocked)).toHaveLength(1);
    expect(results.find((r) => r.newlyBlocked)!.failures).toBe(5);
    const blocked = await store.blockedForMs([`${key}-other`, key]);
    expect(blocked).toBeGreaterThan(0);
    expect(blocked).toBeLessThanOrEqual(1_500);
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    expect(await store.blockedForMs([key])).toBe(0);
  });
});
