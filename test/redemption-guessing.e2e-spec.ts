import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { generateCodes } from '../src/issuance/card-code';
import { PostgresAttemptStore, RedisAttemptStore, type AttemptStore } from '../src/redemption/attempt-limiter';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued, wrongPin } from './support/cards';
import { createClient, createProduct, placePaidOrder } from './support/fixtures';
import { TEST_REDIS_URL } from './support/services';

/** Guessing resistance: failed attempts counted per holder, client and IP; 429 for the cool-down; the metric. */
describe('guessing lockout', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({
      ISSUANCE_CHUNK_SIZE: '100',
      RATE_LIMIT_REQUESTS: '100000',
      REDEMPTION_HOLDER_FAILURE_LIMIT: '10',
      REDEMPTION_CLIENT_FAILURE_LIMIT: '15',
      REDEMPTION_IP_FAILURE_LIMIT: '1000',
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  const channelToken = async () => {
    const client = await createClient(app, {
      scopes: ['redemptions:write'],
      name: `channel ${randomBytes(3).toString('hex')}`,
    });
    return app.tokenFor(client.id, client.client_secret);
  };
  const lockouts = async (scope: string) => {
    const text = (await app.metrics.get('/metrics').expect(200)).text;
    const match = new RegExp(`^redemption_lockouts_total\\{scope="${scope}"\\} (\\d+)`, 'm').exec(text);
    return Number(match?.[1] ?? NaN);
  };

  it('locks a holder account out after 10 wrong PINs, even for the right PIN, and counts the lockout', async () => {
    const product = await createProduct(app);
    const { order } = await placePaidOrder(app, `GUESS-${Date.now()}`, [
      { product_id: product.id, face_value: 10_000, quantity: 2 },
    ]);
    await waitForIssued(app, order.id);
    const [card] = await cardsWithSecrets(app, order.id);
    const token = await channelToken();
    const before = await lockouts('holder');
    const bind = (pin: string, holder = 'guesser') =>
      app.http
        .post('/v1/redemptions/bind')
        .auth(token, { type: 'bearer' })
        .send({ code: card.code, pin, holder_ref: holder, reference: randomBytes(8).toString('hex') });

    for (let i = 0; i < 10; i++) {
      const answer = await bind(wrongPin(card.pin)).expect(422);
      expect(answer.body.code).toBe('invalid_card_credentials');
    }
    const locked = await bind(card.pin).expect(429);
    expect(locked.body).toMatchObject({ code: 'too_many_failed_attempts', status: 429 });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(500);
    expect(await lockouts('holder')).toBe(before + 1);
    const [row] = await app.dataSource.query<Array<{ status: string }>>('SELECT status FROM cards WHERE serial = $1', [
      card.serial,
    ]);
    expect(row.status).toBe('issued');

    // Another holder of the same channel is not locked out (the client's own budget is 15).
    await bind(card.pin, 'honest').expect(200);
  });

  it('locks a channel client out past its own budget, also for verify, and malformed codes are not counted', async () => {
    const token = await channelToken();
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
    const before = await lockouts('client');
    for (let i = 0; i < 14; i++) await verify(generateCodes(1)[0]).expect(422);
    await verify(generateCodes(1)[0]).expect(429);
    expect(await lockouts('client')).toBe(before + 1);
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
      store = new PostgresAttemptStore(dataSource);
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
