import { SEAL_SQL } from '../src/audit/audit.repository';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued, type CardWithSecret } from './support/cards';
import { createClient, createProduct, placePaidOrder } from './support/fixtures';
import { recordStatements, type RecordedStatement } from './support/round-trips';
import { startWorkerProcess, workerEnv } from './support/worker-process';

/**
 * Round-trip budgets of the redemption hot paths (docs/architecture.md): a debit by serial is ONE statement on its
 * success path, a holder-wide debit two (the lock of the holder's cards, then every write) inside BEGIN/COMMIT, a
 * bind one write after its reads.
 * Counted with a spy on pg's Client#query, the app running without its in-process worker; the audit seal that follows
 * a commit (a short transaction of its own that links the records of many requests into the chain) is recognised and
 * counted apart. A change that adds a trip to these paths fails here.
 */
describe('redemption round trips', () => {
  let app: TestApp;
  let channel: string;
  let cards: CardWithSecret[];
  let ref = 0;
  const nextRef = () => `rt-${Date.now()}-${ref++}`;
  const post = (path: string, body: object) => app.http.post(path).auth(channel, { type: 'bearer' }).send(body);

  /** The statements of the seal after a commit: the probe, then (when still pending) BEGIN, the head's lock, the link, COMMIT. */
  const isSeal = (sql: string) =>
    /FROM audit_pending WHERE id = \$1/.test(sql) ||
    /FROM audit_chain_head WHERE id = 1 FOR UPDATE/.test(sql) ||
    sql.trim() === SEAL_SQL.trim();

  /** The request's own statements: the seal's are counted apart (with the BEGIN/COMMIT around its link). */
  function split(statements: RecordedStatement[]): { request: string[]; seal: string[] } {
    const sqls = statements.map((statement) => statement.sql.trim());
    const probe = sqls.findIndex((sql) => /FROM audit_pending WHERE id = \$1/.test(sql));
    if (probe === -1) return { request: sqls, seal: [] };
    const seal = sqls.slice(probe);
    for (const sql of seal) {
      if (!isSeal(sql) && !/^(START TRANSACTION|BEGIN|COMMIT)$/.test(sql)) {
        throw new Error(`a statement after the audit seal began: ${sql.slice(0, 200)}`);
      }
    }
    return { request: sqls.slice(0, probe), seal };
  }

  const byItself = (sql: string) => sql.replace(/\s+/g, ' ').slice(0, 120);

  beforeAll(async () => {
    // The fraud rules' settings are read once here (binds below), not again in a counted request.
    app = await startTestApp(
      { ISSUANCE_CHUNK_SIZE: '100', RATE_LIMIT_REQUESTS: '100000', RISK_SETTINGS_REFRESH_SECONDS: '3600' },
      { worker: false },
    );
    const product = await createProduct(app);
    const placed = await placePaidOrder(app, `RT-${Date.now()}`, [
      { product_id: product.id, face_value: 10_000, quantity: 6 },
    ]);
    // The cards are minted by a worker of their own, stopped before anything is counted.
    const worker = startWorkerProcess(workerEnv(app.runtime.config));
    try {
      await waitForIssued(app, placed.order.id);
    } finally {
      await worker.stop();
    }
    cards = await cardsWithSecrets(app, placed.order.id);
    const client = await createClient(app, { scopes: ['redemptions:write'], name: 'round-trips' });
    channel = await app.tokenFor(client.id, client.client_secret);
    // Bound through the API: this process has seen each card (and so knows its enterprise).
    for (const [index, card] of cards.slice(0, 4).entries()) {
      await post('/v1/redemptions/bind', {
        code: card.code,
        pin: card.pin,
        holder_ref: index < 2 ? 'rt-serial' : 'rt-holder',
        reference: nextRef(),
      }).expect(200);
    }
    // Bound behind this process's back: it has never seen the card.
    await app.dataSource.query(
      `UPDATE cards SET status = 'active', holder_ref = 'rt-unseen', bound_client_id = $2, bound_at = now()
       WHERE serial = $1`,
      [cards[4].serial, client.id],
    );
  });
  afterAll(async () => {
    await app?.close();
  });

  it('debits by serial in ONE statement, then seals the audit record', async () => {
    const body = { serial: cards[0].serial, holder_ref: 'rt-serial', amount: 100, reference: nextRef() };
    const { result, statements } = await recordStatements(() => post('/v1/redemptions/debit', body));
    expect(result.status).toBe(200);
    expect(result.body.cards).toEqual([
      { serial: cards[0].serial, amount: -100, balance_after: 9_900, status: 'active' },
    ]);
    const { request, seal } = split(statements);
    expect(request.map(byItself)).toHaveLength(1);
    // The card's recent debits (the fraud rule's figure) are counted in the same statement.
    expect(request[0]).toMatch(/^WITH card_recent_debits AS/);
    expect(request[0]).toMatch(/card_debit AS/);
    expect(seal.length).toBeGreaterThanOrEqual(1);
    // Sealed before the answer: the record is in the chain.
    const [sealed] = await app.dataSource.query<unknown[]>(
      "SELECT 1 FROM audit_records WHERE action = 'card.debited' AND object_id = $1",
      [result.body.id],
    );
    expect(sealed).toBeDefined();
  });

  it('answers a retry from the stored redemption: the statement rolled back, then one read', async () => {
    const body = { serial: cards[1].serial, holder_ref: 'rt-serial', amount: 100, reference: nextRef() };
    const first = await post('/v1/redemptions/debit', body).expect(200);
    const { result, statements } = await recordStatements(() => post('/v1/redemptions/debit', body));
    expect(result.status).toBe(200);
    expect(result.body).toEqual(first.body);
    expect(split(statements).request.map(byItself)).toHaveLength(2);
    const [{ balance }] = await app.dataSource.query<Array<{ balance: string }>>(
      'SELECT balance::text AS balance FROM cards WHERE serial = $1',
      [cards[1].serial],
    );
    expect(balance).toBe('9900');
  });

  it('reads a card this process has not seen once (its enterprise), then debits in one statement', async () => {
    const debit = () =>
      recordStatements(() =>
        post('/v1/redemptions/debit', {
          serial: cards[4].serial,
          holder_ref: 'rt-unseen',
          amount: 100,
          reference: nextRef(),
        }),
      );
    const unseen = await debit();
    expect(unseen.result.status).toBe(200);
    expect(split(unseen.statements).request.map(byItself)).toHaveLength(2);
    const seen = await debit();
    expect(seen.result.status).toBe(200);
    expect(split(seen.statements).request.map(byItself)).toHaveLength(1);
  });

  it('binds in five statements: the attempt counters, the replay read, the code lookup, the fraud figures, ONE write', async () => {
    const card = cards[5];
    const body = { code: card.code, pin: card.pin, holder_ref: 'rt-bind', reference: nextRef() };
    const { result, statements } = await recordStatements(() => post('/v1/redemptions/bind', body));
    expect(result.status).toBe(200);
    const { request } = split(statements);
    expect(request.map(byItself)).toHaveLength(5);
    expect(request[0]).toMatch(/FROM redemption_attempt_counters/);
    expect(request[1]).toMatch(/FROM redemptions/);
    expect(request[2]).toMatch(/FROM cards/);
    expect(request[3]).toMatch(/FROM card_transactions/);
    expect(request[4]).toMatch(/^WITH card_bind AS/);
  });

  it('reverses a one-card debit in five statements inside BEGIN/COMMIT, after the replay read', async () => {
    const body = { serial: cards[0].serial, holder_ref: 'rt-serial', amount: 300, reference: nextRef() };
    const debit = await post('/v1/redemptions/debit', body).expect(200);
    const { result, statements } = await recordStatements(() =>
      post(`/v1/redemptions/${debit.body.id}/reverse`, { reference: nextRef() }),
    );
    expect(result.status).toBe(200);
    const { request } = split(statements);
    // The replay read; BEGIN; the debit's lock; what its cards have out; the card's credit; every write; COMMIT.
    expect(request.map(byItself)).toHaveLength(7);
    expect(request[1]).toMatch(/^(START TRANSACTION|BEGIN)$/);
    expect(request[5]).toMatch(/^WITH redemption AS/);
    expect(request[6]).toBe('COMMIT');
  });

  it("debits by a card's payment code in ONE statement, the code spent in it, once its key is known", async () => {
    const issued = await post('/v1/redemptions/payment-codes', { serial: cards[1].serial, holder_ref: 'rt-serial' });
    expect(issued.status).toBe(200);
    const body = { payment_code: issued.body.code as string, amount: 100, reference: nextRef() };
    const { result, statements } = await recordStatements(() => post('/v1/redemptions/debit', body));
    expect(result.status).toBe(200);
    const { request } = split(statements);
    expect(request.map(byItself)).toHaveLength(1);
    expect(request[0]).toMatch(/^WITH payment_code_lock AS/);
    expect(request[0]).toMatch(/payment_code_use AS/);
  });

  it("debits a holder's cards in two statements inside BEGIN/COMMIT", async () => {
    const body = { holder_ref: 'rt-holder', amount: 12_000, reference: nextRef() };
    const { result, statements } = await recordStatements(() => post('/v1/redemptions/debit', body));
    expect(result.status).toBe(200);
    expect(result.body.cards).toHaveLength(2);
    const { request } = split(statements);
    expect(request.map(byItself)).toHaveLength(4);
    expect(request[0]).toMatch(/^(START TRANSACTION|BEGIN)$/);
    expect(request[3]).toBe('COMMIT');
  });
});
