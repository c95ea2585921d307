import { isValidSerial, serialFromSequence } from '../src/cards/card-code';
import { IssuanceService } from '../src/issuance/issuance.service';
import { startTestApp, type TestApp } from './support/app';
import { createProduct, placePaidOrder } from './support/fixtures';
import { waitFor } from './support/wait';

/** Orders minted by the worker running in-process, in small chunks so that every batch has several. */
describe('card issuance', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ ISSUANCE_CHUNK_SIZE: '100' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('mints every card of a paid order once, with contiguous serials, and books the float', async () => {
    const product = await createProduct(app);
    const { enterprise, token, order } = await placePaidOrder(
      app,
      'ISSUE-1',
      [
        { product_id: product.id, face_value: 10_000, quantity: 250 },
        { product_id: product.id, face_value: 50_000, quantity: 120 },
      ],
      ['orders:write', 'orders:read', 'cards:read'],
    );
    const orderId = order.id;

    const issued = await waitFor(
      async () => (await app.http.get(`/v1/orders/${orderId}`).auth(token, { type: 'bearer' }).expect(200)).body,
      (order) => order.status === 'issued',
    );
    expect(issued.issuance).toEqual([
      expect.objectContaining({ line_no: 1, status: 'completed', count: 250, issued_count: 250, eta_seconds: 0 }),
      expect.objectContaining({ line_no: 2, status: 'completed', count: 120, issued_count: 120, eta_seconds: 0 }),
    ]);
    const batch = await app.http
      .get(`/v1/batches/${issued.issuance[0].id}`)
      .auth(token, { type: 'bearer' })
      .expect(200);
    expect(batch.body).toMatchObject({ object: 'batch', status: 'completed', issued_count: 250 });

    // Every card once, serials contiguous within each batch, valid check digits, no secrets in the API.
    const serials: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: Array<{ serial: string }>; has_more: boolean; next_cursor: string | null } } =
        await app.http
          .get(`/v1/orders/${orderId}/cards`)
          .query({ limit: 100, ...(cursor ? { starting_after: cursor } : {}) })
          .auth(token, { type: 'bearer' })
          .expect(200);
      for (const card of page.body.data) {
        expect(Object.keys(card).sort()).toEqual(
          [
            'balance',
            'expires_at',
            'face_value',
            'holder_ref',
            'issued_at',
            'object',
            'order_id',
            'replaced_by',
            'replaces',
            'serial',
            'status',
          ].sort(),
        );
        serials.push(card.serial);
      }
      cursor = page.body.has_more ? page.body.next_cursor : null;
    } while (cursor);
    expect(serials).toHaveLength(370);
    expect(new Set(serials).size).toBe(370);
    expect(serials.every(isValidSerial)).toBe(true);
    const [range] = await app.dataSource.query(
      'SELECT b.serial_start AS start, b.count FROM issuance_batches b WHERE b.order_id = $1 AND b.line_no = 1',
      [orderId],
    );
    const expected = Array.from({ length: 250 }, (_, i) => serialFromSequence(Number(range.start) + i));
    expect(serials.slice(0, 250)).toEqual(expected);

    const card = await app.http.get(`/v1/cards/${serials[0]}`).auth(token, { type: 'bearer' }).expect(200);
    expect(card.body).toMatchObject({ serial: serials[0], face_value: 10_000, balance: 10_000, status: 'issued' });
    const badCheck = `${serials[0].slice(0, -1)}${(Number(serials[0].slice(-1)) + 1) % 10}`;
    await app.http.get(`/v1/cards/${badCheck}`).auth(token, { type: 'bearer' }).expect(404);

    const events = await app.dataSource.query(
      "SELECT type FROM events WHERE enterprise_id = $1 AND type IN ('batch.completed', 'order.issued') ORDER BY id",
      [enterprise.id],
    );
    expect(events.map((event: { type: string }) => event.type).sort()).toEqual([
      'batch.completed',
      'batch.completed',
      'order.issued',
    ]);
    const [float] = await app.dataSource.query(
      `SELECT (SELECT -COALESCE(SUM(l.amount), 0) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
                WHERE e.order_id = $1 AND l.account = 'card_float')::bigint AS float,
              (SELECT SUM(balance) FROM cards WHERE order_id = $1)::bigint AS balances`,
      [orderId],
    );
    expect(Number(float.float)).toBe(250 * 10_000 + 120 * 50_000);
    expect(Number(float.balances)).toBe(Number(float.float));
    const verify = await app.http
      .get('/v1/admin/ledger/verify')
      .auth(await app.operatorToken(), { type: 'bearer' })
      .expect(200);
    expect(verify.body.ok).toBe(true);
  });

  it('mints a chunk once however often its job runs', async () => {
    const product = await createProduct(app);
    const { token, order: placed } = await placePaidOrder(app, 'ISSUE-2', [
      { product_id: product.id, face_value: 10_000, quantity: 150 },
    ]);
    await waitFor(
      async () => (await app.http.get(`/v1/orders/${placed.id}`).auth(token, { type: 'bearer' }).expect(200)).body,
      (order) => order.status === 'issued',
    );
    const service = app.app.get(IssuanceService);
    const [batch] = await app.dataSource.query('SELECT id FROM issuance_batches WHERE order_id = $1', [placed.id]);
    const job = { attemptsMade: 0, opts: { attempts: 5 } } as never;
    // Delivered again, twice at once: nothing more is minted.
    const again = await Promise.all([
      service.mintChunk({ batchId: batch.id, chunkNo: 0 }, job),
      service.mintChunk({ batchId: batch.id, chunkNo: 1 }, job),
    ]);
    expect(again).toEqual([{ minted: 0 }, { minted: 0 }]);
    const [{ n }] = await app.dataSource.query('SELECT count(*)::int AS n FROM cards WHERE order_id = $1', [placed.id]);
    expect(n).toBe(150);
  });
});
