import { randomInt } from 'node:crypto';
import { startTestApp, type TestApp } from './support/app';
import {
  createClient,
  createEnterprise,
  createProduct,
  recordTransfer,
  TEST_PURCHASER,
  type ProductFixture,
} from './support/fixtures';

describe('orders, payments and the ledger', () => {
  let app: TestApp;
  let anonymous: ProductFixture;
  let registered: ProductFixture;

  beforeAll(async () => {
    // Paid orders wait before minting here, so that these tests see them paid (issuance has its own tests).
    app = await startTestApp({ ISSUANCE_DELAY_SECONDS: '3600' });
    anonymous = await createProduct(app);
    registered = await createProduct(app, {
      card_type: 'registered',
      face_values: [200_000, 500_000],
      validity_months: null,
    });
  });
  afterAll(async () => {
    await app.close();
  });

  /** An enterprise with an HR client (places orders) and a finance client (approves, pays). */
  async function tenant(settings: Record<string, unknown> = {}) {
    const enterprise = await createEnterprise(app, { discount_bps: 200, ...settings });
    const hr = await createClient(app, {
      enterprise_id: enterprise.id,
      scopes: ['orders:write', 'orders:read', 'products:read'],
    });
    const finance = await createClient(app, {
      enterprise_id: enterprise.id,
      scopes: ['orders:approve', 'orders:read'],
    });
    const hrToken = await app.tokenFor(hr.id, hr.client_secret);
    const financeToken = await app.tokenFor(finance.id, finance.client_secret);
    const operator = await app.operatorToken();
    const deposit = (amount: number, extra: Record<string, unknown> = {}) =>
      recordTransfer(app, operator, {
        enterprise_id: enterprise.id,
        payer_account_name: enterprise.name,
        amount,
        ...extra,
      });
    const order = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      app.http
        .post('/v1/orders')
        .auth(hrToken, { type: 'bearer' })
        .set(headers)
        .send({ po_number: `PO-${randomInt(1e12)}`, payment_method: 'prepaid_balance', ...body });
    const act = (token: string, orderId: string, action: string, body: object = {}) =>
      app.http.post(`/v1/orders/${orderId}/${action}`).auth(token, { type: 'bearer' }).send(body);
    const balance = async () =>
      (await app.http.get('/v1/balance').auth(hrToken, { type: 'bearer' }).expect(200)).body as {
        prepaid_balance: number;
        credit_used: number;
        credit_available: number;
      };
    const events = (type: string) =>
      app.dataSource.query<Array<{ data: Record<string, unknown> }>>(
        'SELECT data FROM events WHERE enterprise_id = $1 AND type = $2 ORDER BY id',
        [enterprise.id, type],
      );
    return { enterprise, hr, finance, hrToken, financeToken, deposit, order, act, balance, events };
  }

  const line = (
    product: ProductFixture,
    face_value: number,
    quantity: number,
    extra: Record<string, unknown> = {},
  ) => ({
    product_id: product.id,
    face_value,
    quantity,
    ...extra,
  });

  it('walks an HR order through approval and prepaid payment, booking every fen', async () => {
    const t = await tenant({ approval_threshold: 1_000_000 });
    await t.deposit(5_000_000).expect(201);
    expect((await t.balance()).prepaid_balance).toBe(5_000_000);

    const placed = await t
      .order({
        lines: [line(anonymous, 50_000, 20, { greeting: '新年快乐' }), line(anonymous, 10_000, 15)],
        purchaser: TEST_PURCHASER, // 11,500 CNY of anonymous cards: real-name purchase
      })
      .expect(201);
    // 20 × 500 CNY + 15 × 100 CNY = 11,500 CNY; 2 % discount = 230 CNY.
    expect(placed.body).toMatchObject({
      object: 'order',
      status: 'pending_approval',
      face_total: 1_150_000,
      discount_bps: 200,
      discount_total: 23_000,
      payable: 1_127_000,
      lines: [
        {
          line_no: 1,
          face_value: 50_000,
          quantity: 20,
          face_total: 1_000_000,
          greeting: '新年快乐',
          design: 'classic',
        },
        { line_no: 2, face_value: 10_000, quantity: 15, face_total: 150_000, greeting: null, design: 'classic' },
      ],
    });
    const id = placed.body.id as string;
    expect((await t.events('order.approval_required')).map((event) => event.data.order_id)).toEqual([id]);

    // Paying before approval is an illegal move of the state machine.
    expect((await t.act(t.financeToken, id, 'pay').expect(409)).body.code).toBe('invalid_state');
    await t.act(t.financeToken, id, 'approve').expect(200);
    const paid = await t.act(t.financeToken, id, 'pay').expect(200);
    expect(paid.body).toMatchObject({ status: 'paid', paid_at: expect.any(String) });
    expect((await t.balance()).prepaid_balance).toBe(5_000_000 - 1_127_000);
    for (const type of ['order.created', 'order.approved', 'order.paid']) {
      expect((await t.events(type)).map((event) => event.data.order_id)).toContain(id);
    }
    const verify = await app.http
      .get('/v1/admin/ledger/verify')
      .auth(await app.operatorToken(), { type: 'bearer' })
      .expect(200);
    expect(verify.body.ok).toBe(true);
  });

  it("lets the enterprise's finance set its own approval threshold", async () => {
    const t = await tenant();
    const other = await tenant();
    const settings = (token: string, id: string, body: object) =>
      app.http.patch(`/v1/enterprises/${id}`).auth(token, { type: 'bearer' }).send(body);
    await settings(t.hrToken, t.enterprise.id, { approval_threshold: 50_000 }).expect(403);
    await settings(t.financeToken, other.enterprise.id, { approval_threshold: 50_000 }).expect(404);
    await settings(t.financeToken, t.enterprise.id, { approval_threshold: 50_000, credit_limit: 1 }).expect(400);
    const updated = await settings(t.financeToken, t.enterprise.id, { approval_threshold: 50_000 }).expect(200);
    expect(updated.body.approval_threshold).toBe(50_000);
    expect((await t.order({ lines: [line(anonymous, 10_000, 6)] }).expect(201)).body.status).toBe('pending_approval');
    expect((await t.order({ lines: [line(anonymous, 10_000, 1)] }).expect(201)).body.status).toBe('pending_payment');
    await settings(t.financeToken, t.enterprise.id, { approval_threshold: null }).expect(200);
    expect((await t.order({ lines: [line(anonymous, 10_000, 5)] }).expect(201)).body.status).toBe('pending_payment');
  });

  it('refuses an approval by the client that placed the order', async () => {
    const t = await tenant({ approval_threshold: 0 });
    const both = await createClient(app, {
      enterprise_id: t.enterprise.id,
      scopes: ['orders:write', 'orders:approve'],
    });
    const token = await app.tokenFor(both.id, both.client_secret);
    const placed = await app.http
      .post('/v1/orders')
      .auth(token, { type: 'bearer' })
      .send({ po_number: 'SELF-1', payment_method: 'prepaid_balance', lines: [line(anonymous, 10_000, 1)] })
      .expect(201);
    const refused = await t.act(token, placed.body.id, 'approve').expect(403);
    expect(refused.body.code).toBe('self_approval_not_allowed');
    const rejected = await t.act(t.financeToken, placed.body.id, 'reject', { reason: 'not budgeted' }).expect(200);
    expect(rejected.body).toMatchObject({
      status: 'rejected',
      rejection_reason: 'not budgeted',
      decided_by_client_id: t.finance.id,
    });
  });

  it('writes an order.rejected event when an order is rejected, and nothing for a refused rejection', async () => {
    const t = await tenant({ approval_threshold: 0 });
    const placed = await t.order({ lines: [line(anonymous, 10_000, 2)] }).expect(201);
    expect(placed.body.status).toBe('pending_approval');
    expect(await t.events('order.rejected')).toEqual([]);
    await t.act(t.financeToken, placed.body.id, 'reject', { reason: 'over budget' }).expect(200);
    expect((await t.events('order.rejected')).map((event) => event.data)).toEqual([
      expect.objectContaining({
        order_id: placed.body.id,
        po_number: placed.body.po_number,
        status: 'rejected',
        payable: 19_600,
        rejected_by_client_id: t.finance.id,
        reason: 'over budget',
      }),
    ]);
    // A second rejection is an illegal move: no second event.
    expect((await t.act(t.financeToken, placed.body.id, 'reject').expect(409)).body.code).toBe('invalid_state');
    expect(await t.events('order.rejected')).toHaveLength(1);
  });

  it('answers a reused PO number with 409 naming the existing order', async () => {
    const t = await tenant();
    const first = await t.order({ po_number: 'PO-DUP', lines: [line(anonymous, 10_000, 1)] }).expect(201);
    const second = await t.order({ po_number: 'PO-DUP', lines: [line(anonymous, 10_000, 2)] }).expect(409);
    expect(second.body).toMatchObject({ code: 'po_number_exists', existing_order_id: first.body.id });
  });

  it('makes one order from racing creates with one Idempotency-Key', async () => {
    const t = await tenant();
    const body = { po_number: 'PO-RACE', lines: [line(anonymous, 10_000, 3)] };
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => t.order(body, { 'idempotency-key': 'race-key' })),
    );
    expect(responses.every((response) => [201, 409].includes(response.status))).toBe(true);
    const ids = new Set(responses.filter((response) => response.status === 201).map((response) => response.body.id));
    expect(ids.size).toBe(1);
    const rows = await app.dataSource.query('SELECT count(*)::int AS n FROM orders WHERE enterprise_id = $1', [
      t.enterprise.id,
    ]);
    expect(rows[0].n).toBe(1);
  });

  describe('bad input: a clear 4xx each, nothing written', () => {
    it.each([
      [
        'an unknown product',
        { lines: [{ product_id: 'prd_00000000000000000000000000', face_value: 10_000, quantity: 1 }] },
        422,
        'product_not_found',
      ],
      ['a face value not offered', { lines: [{ face_value: 20_000, quantity: 1 }] }, 422, 'face_value_not_offered'],
      // Above the anonymous single-card limit (1,000 CNY) and not offered either: the compliance code wins.
      [
        'a face value above the single-card limit',
        { lines: [{ face_value: 100_100, quantity: 1 }] },
        422,
        'card_limit_exceeded',
      ],
      [
        'a design not offered',
        { lines: [{ face_value: 10_000, quantity: 1, design: 'gold' }] },
        422,
        'design_not_offered',
      ],
      ['quantity 0', { lines: [{ face_value: 10_000, quantity: 0 }] }, 400, 'invalid_quantity'],
      ['quantity above 1,000,000', { lines: [{ face_value: 10_000, quantity: 1_000_001 }] }, 400, 'invalid_quantity'],
      ['a fractional face value', { lines: [{ face_value: 10_000.5, quantity: 1 }] }, 400, 'invalid_amount'],
      ['no lines', { lines: [] }, 400, 'validation_failed'],
      [
        'a greeting over 200 characters',
        { lines: [{ face_value: 10_000, quantity: 1, greeting: '福'.repeat(201) }] },
        400,
        'greeting_too_long',
      ],
      [
        'an unknown payment method',
        { payment_method: 'cash', lines: [{ face_value: 10_000, quantity: 1 }] },
        400,
        'validation_failed',
      ],
    ])('%s', async (_name, body, status, code) => {
      const t = await tenant();
      const lines = (body.lines as Array<Record<string, unknown>>).map((item) => ({
        product_id: anonymous.id,
        ...item,
      }));
      const response = await t.order({ ...body, lines }).expect(status);
      expect(response.body.code).toBe(code);
      const rows = await app.dataSource.query('SELECT count(*)::int AS n FROM orders WHERE enterprise_id = $1', [
        t.enterprise.id,
      ]);
      expect(rows[0].n).toBe(0);
    });
  });

  describe('PRC prepaid-card rules', () => {
    it('requires the purchaser identity for registered cards, and masks it', async () => {
      const t = await tenant();
      const missing = await t
        .order({ lines: [line(registered, 200_000, 1)], payment_method: 'bank_transfer' })
        .expect(422);
      expect(missing.body.code).toBe('real_name_required');
      const placed = await t
        .order({ lines: [line(registered, 200_000, 1)], payment_method: 'bank_transfer', purchaser: TEST_PURCHASER })
        .expect(201);
      expect(placed.body.purchaser).toEqual({
        name: '张*',
        id_type: 'resident_id',
        id_number: `110${'*'.repeat(11)}${TEST_PURCHASER.id_number.slice(-4)}`,
        phone: '138****5678',
      });
      expect(JSON.stringify(placed.body)).not.toContain(TEST_PURCHASER.id_number);
      const [row] = await app.dataSource.query('SELECT purchaser_ciphertext FROM orders WHERE id = $1', [
        placed.body.id,
      ]);
      expect(row.purchaser_ciphertext).toMatch(/^v2\./);
      expect(row.purchaser_ciphertext).not.toContain(TEST_PURCHASER.id_number);
    });

    it('requires it for anonymous orders from 10,000 CNY of face value, not below', async () => {
      const t = await tenant();
      await t
        .order({ lines: [line(anonymous, 100_000, 9), line(anonymous, 50_000, 1), line(anonymous, 10_000, 4)] })
        .expect(201); // 9,900 CNY
      const at = await t.order({ lines: [line(anonymous, 100_000, 10)] }).expect(422); // 10,000 CNY
      expect(at.body.code).toBe('real_name_required');
      await t.order({ lines: [line(anonymous, 100_000, 10)], purchaser: TEST_PURCHASER }).expect(201);
    });

    it('requires a bank-funded payment method from 5,000 CNY payable', async () => {
      const t = await tenant({ credit_limit: 100_000_000 });
      const refused = await t
        .order({ payment_method: 'credit_line', lines: [line(anonymous, 100_000, 6)] })
        .expect(422);
      expect(refused.body.code).toBe('bank_transfer_required');
      await t.order({ payment_method: 'credit_line', lines: [line(anonymous, 10_000, 10)] }).expect(201); // 980 CNY payable
      await t.order({ payment_method: 'bank_transfer', lines: [line(anonymous, 100_000, 6)] }).expect(201);
    });

    it('takes transfers only from the enterprise corporate account', async () => {
      const t = await tenant();
      const response = await recordTransfer(app, await app.operatorToken(), {
        enterprise_id: t.enterprise.id,
        payer_account_name: '李四',
        amount: 1_000,
      }).expect(422);
      expect(response.body.code).toBe('corporate_payer_required');
    });
  });

  describe('payments', () => {
    it('pays a bank_transfer order once its transfers cover it, the excess going to prepaid', async () => {
      const t = await tenant();
      const placed = await t
        .order({ payment_method: 'bank_transfer', lines: [line(anonymous, 50_000, 10)] })
        .expect(201);
      const { id, payable } = placed.body as { id: string; payable: number };
      expect(payable).toBe(490_000);
      expect((await t.act(t.financeToken, id, 'pay').expect(409)).body.code).toBe('awaiting_bank_transfer');
      await t.deposit(200_000, { kind: 'order_transfer', order_id: id }).expect(201);
      let order = await app.http.get(`/v1/orders/${id}`).auth(t.hrToken, { type: 'bearer' }).expect(200);
      expect(order.body).toMatchObject({ status: 'pending_payment', amount_transferred: 200_000 });
      expect(await t.balance()).toMatchObject({ prepaid_balance: 0, held_for_orders: 200_000 });

      await t.deposit(300_000, { kind: 'order_transfer', order_id: id }).expect(201);
      order = await app.http.get(`/v1/orders/${id}`).auth(t.hrToken, { type: 'bearer' }).expect(200);
      expect(order.body).toMatchObject({ status: 'paid', amount_transferred: 500_000 });
      expect(await t.balance()).toMatchObject({ prepaid_balance: 10_000, held_for_orders: 0 });
      expect((await t.events('payment.received')).length).toBe(2);

      const late = await t.deposit(1_000, { kind: 'order_transfer', order_id: id }).expect(409);
      expect(late.body.code).toBe('invalid_state');
    });

    it("lists an enterprise's own payments; the enterprise_id filter is the operator's only", async () => {
      const t = await tenant();
      const other = await tenant();
      await t.deposit(10_000).expect(201);
      await other.deposit(20_000).expect(201);
      const list = (token: string, query: Record<string, string> = {}) =>
        app.http.get('/v1/payments').query(query).auth(token, { type: 'bearer' });
      const own = await list(t.hrToken).expect(200);
      expect(own.body.data.map((payment: { amount: number }) => payment.amount)).toEqual([10_000]);
      // Offered to tenants, the filter could only answer an empty list for another enterprise: it is refused.
      const refused = await list(t.hrToken, { enterprise_id: other.enterprise.id }).expect(400);
      expect(refused.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'enterprise_id' }] });
      const operator = await app.http
        .get('/v1/admin/payments')
        .query({ enterprise_id: other.enterprise.id })
        .auth(await app.operatorToken(), { type: 'bearer' })
        .expect(200);
      expect(operator.body.data.map((payment: { amount: number }) => payment.amount)).toEqual([20_000]);
    });

    it('books racing confirmations of one bank transfer once', async () => {
      const t = await tenant();
      const placed = await t
        .order({ payment_method: 'bank_transfer', lines: [line(anonymous, 10_000, 10)] })
        .expect(201);
      const confirm = () =>
        t.deposit(98_000, {
          kind: 'order_transfer',
          order_id: placed.body.id,
          bank_reference: `RACE-${placed.body.id}`,
        });
      const responses = await Promise.all([confirm(), confirm(), confirm()]);
      expect(responses.map((response) => response.status).sort()).toEqual([201, 409, 409]);
      const duplicate = responses.find((response) => response.status === 409)!;
      expect(duplicate.body).toMatchObject({
        code: 'payment_already_recorded',
        existing_payment_id: expect.stringMatching(/^pay_/),
      });
      const order = await app.http.get(`/v1/orders/${placed.body.id}`).auth(t.hrToken, { type: 'bearer' }).expect(200);
      expect(order.body).toMatchObject({ status: 'paid', amount_transferred: 98_000 });
      const entries = await app.dataSource.query(
        "SELECT count(*)::int AS n FROM ledger_entries WHERE order_id = $1 AND kind = 'order_payment'",
        [placed.body.id],
      );
      expect(entries[0].n).toBe(1);
    });

    it('charges racing pay calls for one order once', async () => {
      const t = await tenant();
      await t.deposit(1_000_000).expect(201);
      const placed = await t.order({ lines: [line(anonymous, 10_000, 10)] }).expect(201);
      const responses = await Promise.all(
        Array.from({ length: 5 }, () => t.act(t.financeToken, placed.body.id, 'pay')),
      );
      expect(responses.filter((response) => response.status === 200)).toHaveLength(1);
      expect(
        responses
          .filter((response) => response.status === 409)
          .every((response) => response.body.code === 'invalid_state'),
      ).toBe(true);
      expect((await t.balance()).prepaid_balance).toBe(1_000_000 - 98_000);
    });

    it('refuses to overdraw the prepaid balance or the credit line, changing nothing', async () => {
      const t = await tenant({ credit_limit: 100_000 });
      await t.deposit(50_000).expect(201);
      const prepaid = await t.order({ lines: [line(anonymous, 10_000, 6)] }).expect(201); // 588 CNY
      const short = await t.act(t.financeToken, prepaid.body.id, 'pay').expect(422);
      expect(short.body).toMatchObject({
        code: 'insufficient_prepaid_balance',
        prepaid_balance: 50_000,
        payable: 58_800,
      });

      const credit = await t.order({ payment_method: 'credit_line', lines: [line(anonymous, 10_000, 11)] }).expect(201); // 1,078 CNY
      const over = await t.act(t.financeToken, credit.body.id, 'pay').expect(422);
      expect(over.body).toMatchObject({ code: 'credit_limit_exceeded', credit_available: 100_000 });

      for (const id of [prepaid.body.id, credit.body.id]) {
        const order = await app.http.get(`/v1/orders/${id}`).auth(t.hrToken, { type: 'bearer' }).expect(200);
        expect(order.body.status).toBe('pending_payment');
      }
      expect(await t.balance()).toMatchObject({ prepaid_balance: 50_000, credit_used: 0 });
      expect(await t.events('order.paid')).toEqual([]);
    });

    it('draws on the credit line and takes repayments, any excess going to prepaid', async () => {
      const t = await tenant({ credit_limit: 500_000 });
      const placed = await t.order({ payment_method: 'credit_line', lines: [line(anonymous, 10_000, 40)] }).expect(201); // 3,920 CNY
      await t.act(t.financeToken, placed.body.id, 'pay').expect(200);
      expect(await t.balance()).toMatchObject({ credit_used: 392_000, credit_available: 108_000, prepaid_balance: 0 });
      await t.deposit(400_000, { kind: 'credit_repayment' }).expect(201);
      expect(await t.balance()).toMatchObject({ credit_used: 0, credit_available: 500_000, prepaid_balance: 8_000 });
    });

    it.each([
      ['zero', 0],
      ['negative', -100],
      ['fractional fen', 10.5],
    ])('refuses a %s payment amount', async (_name, amount) => {
      const t = await tenant();
      const response = await t.deposit(amount).expect(400);
      expect(response.body.code).toBe('invalid_amount');
      expect(response.body.errors).toEqual([expect.objectContaining({ field: 'amount', code: 'invalid_amount' })]);
    });
  });

  describe('cancellation', () => {
    it('refunds a paid order to the prepaid balance, and refuses a payment afterwards', async () => {
      const t = await tenant();
      await t.deposit(200_000).expect(201);
      const placed = await t.order({ lines: [line(anonymous, 10_000, 10)] }).expect(201);
      await t.act(t.financeToken, placed.body.id, 'pay').expect(200);
      expect((await t.balance()).prepaid_balance).toBe(102_000);
      const cancelled = await t.act(t.hrToken, placed.body.id, 'cancel', { reason: 'duplicate' }).expect(200);
      expect(cancelled.body).toMatchObject({ status: 'cancelled', cancellation_reason: 'duplicate' });
      expect((await t.balance()).prepaid_balance).toBe(200_000);
      const [event] = await t.events('order.cancelled');
      expect(event.data).toMatchObject({ order_id: placed.body.id, refunded: 98_000 });

      const written = () =>
        app.dataSource.query<Array<{ entries: number; payments: number; paid_events: number }>>(
          `SELECT (SELECT count(*)::int FROM ledger_entries WHERE enterprise_id = $1) AS entries,
                  (SELECT count(*)::int FROM payments WHERE enterprise_id = $1) AS payments,
                  (SELECT count(*)::int FROM events WHERE enterprise_id = $1 AND type = 'order.paid') AS paid_events`,
          [t.enterprise.id],
        );
      const before = await written();
      expect(before).toEqual([{ entries: 3, payments: 1, paid_events: 1 }]); // deposit, payment, refund
      const refused = await t.act(t.financeToken, placed.body.id, 'pay').expect(409);
      expect(refused.body).toMatchObject({
        status: 409,
        code: 'invalid_state',
        order_id: placed.body.id,
        order_status: 'cancelled',
      });
      expect(await written()).toEqual(before);
      expect(await t.balance()).toMatchObject({ prepaid_balance: 200_000, credit_used: 0 });
      const order = await app.http.get(`/v1/orders/${placed.body.id}`).auth(t.hrToken, { type: 'bearer' }).expect(200);
      expect(order.body.status).toBe('cancelled');
      expect((await t.act(t.hrToken, placed.body.id, 'cancel').expect(409)).body.code).toBe('invalid_state');
    });

    it('releases transfers of a cancelled bank_transfer order to prepaid and refuses later transfers', async () => {
      const t = await tenant();
      const placed = await t
        .order({ payment_method: 'bank_transfer', lines: [line(anonymous, 50_000, 10)] })
        .expect(201);
      await t.deposit(100_000, { kind: 'order_transfer', order_id: placed.body.id }).expect(201);
      await t.act(t.hrToken, placed.body.id, 'cancel').expect(200);
      expect((await t.balance()).prepaid_balance).toBe(100_000);
      const refused = await t.deposit(100_000, { kind: 'order_transfer', order_id: placed.body.id }).expect(409);
      expect(refused.body.code).toBe('invalid_state');
      // The state is checked first: a cancelled bank_transfer order is not awaiting any transfer.
      const pay = await t.act(t.financeToken, placed.body.id, 'pay').expect(409);
      expect(pay.body).toMatchObject({ status: 409, code: 'invalid_state', order_status: 'cancelled' });
      expect(await t.balance()).toMatchObject({ prepaid_balance: 100_000, held_for_orders: 0 });
    });

    it('returns a credit-line payment to the credit line', async () => {
      const t = await tenant({ credit_limit: 200_000 });
      const placed = await t.order({ payment_method: 'credit_line', lines: [line(anonymous, 10_000, 10)] }).expect(201);
      await t.act(t.financeToken, placed.body.id, 'pay').expect(200);
      expect((await t.balance()).credit_used).toBe(98_000);
      await t.act(t.hrToken, placed.body.id, 'cancel').expect(200);
      expect((await t.balance()).credit_used).toBe(0);
    });
  });

  describe('reading orders', () => {
    it('filters by created range: created_gte is inclusive, created_lt exclusive', async () => {
      const t = await tenant();
      const placed: Array<{ id: string; created_at: string }> = [];
      for (let i = 0; i < 3; i++)
        placed.push((await t.order({ lines: [line(anonymous, 10_000, 1)] }).expect(201)).body);
      const [a, b, c] = placed;
      expect(new Set(placed.map((order) => order.created_at)).size).toBe(3);
      const ids = async (query: string) =>
        (
          (await app.http.get(`/v1/orders?${query}`).auth(t.hrToken, { type: 'bearer' }).expect(200)).body
            .data as Array<{
            id: string;
          }>
        ).map((order) => order.id);
      expect(await ids(`created_lt=${b.created_at}`)).toEqual([a.id]);
      expect(await ids(`created_lt=${c.created_at}`)).toEqual([b.id, a.id]);
      expect(await ids(`created_lt=${a.created_at}`)).toEqual([]);
      expect(await ids(`created_gte=${b.created_at}`)).toEqual([c.id, b.id]);
      expect(await ids(`created_gte=${b.created_at}&created_lt=${c.created_at}`)).toEqual([b.id]);
      expect(await ids(`created_gte=${a.created_at}&created_lt=${a.created_at}`)).toEqual([]);
      const invalid = await app.http.get('/v1/orders?created_lt=yesterday').auth(t.hrToken, { type: 'bearer' });
      expect({ status: invalid.status, code: invalid.body.code }).toEqual({ status: 400, code: 'validation_failed' });
    });

    it("lists with filters and cursor pages, and hides other tenants' orders", async () => {
      const t = await tenant();
      const other = await tenant();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++)
        ids.push((await t.order({ po_number: `LIST-${i}`, lines: [line(anonymous, 10_000, 1)] }).expect(201)).body.id);
      await t.act(t.hrToken, ids[1], 'cancel').expect(200);
      const page = await app.http.get('/v1/orders?limit=2').auth(t.hrToken, { type: 'bearer' }).expect(200);
      expect(page.body.data.map((order: { id: string }) => order.id)).toEqual([ids[2], ids[1]]);
      const next = await app.http
        .get(`/v1/orders?limit=2&starting_after=${page.body.next_cursor}`)
        .auth(t.hrToken, { type: 'bearer' })
        .expect(200);
      expect(next.body.data.map((order: { id: string }) => order.id)).toEqual([ids[0]]);
      const cancelled = await app.http
        .get('/v1/orders?status=cancelled')
        .auth(t.hrToken, { type: 'bearer' })
        .expect(200);
      expect(cancelled.body.data.map((order: { id: string }) => order.id)).toEqual([ids[1]]);
      const byPo = await app.http.get('/v1/orders?po_number=LIST-0').auth(t.hrToken, { type: 'bearer' }).expect(200);
      expect(byPo.body.data.map((order: { id: string }) => order.id)).toEqual([ids[0]]);
      const future = await app.http
        .get(`/v1/orders?created_gte=${new Date(Date.now() + 60_000).toISOString()}`)
        .auth(t.hrToken, { type: 'bearer' })
        .expect(200);
      expect(future.body.data).toEqual([]);
      await app.http.get(`/v1/orders/${ids[0]}`).auth(other.hrToken, { type: 'bearer' }).expect(404);
      expect((await app.http.get('/v1/orders').auth(other.hrToken, { type: 'bearer' }).expect(200)).body.data).toEqual(
        [],
      );
    });
  });
});
