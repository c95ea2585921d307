import { randomInt, randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from './support/app';
import {
  createClient,
  createEnterprise,
  createProduct,
  newCreditCode,
  recordTransfer,
  type ProductFixture,
} from './support/fixtures';

const PROBLEM = /^application\/problem\+json/;
const QUANTITY_MESSAGE = 'quantity must be a whole number from 1 to 1,000,000';
const TOO_LARGE = Number.MAX_SAFE_INTEGER + 1;

interface FieldErrorBody {
  field: string;
  message: string;
  code: string;
}

/** Each bad field gets its own code in errors[], and the problem takes it when it is the only fault. */
describe('bad input: a 400 with its own code, nothing written', () => {
  let app: TestApp;
  let operator: string;
  let product: ProductFixture;

  beforeAll(async () => {
    app = await startTestApp({ ISSUANCE_DELAY_SECONDS: '3600', RATE_LIMIT_REQUESTS: '100000' });
    operator = await app.operatorToken();
    product = await createProduct(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  /** An enterprise with 2,000 CNY prepaid, an HR client and a finance client. */
  async function tenant(settings: Record<string, unknown> = {}) {
    const enterprise = await createEnterprise(app, settings);
    const hr = await createClient(app, { enterprise_id: enterprise.id, scopes: ['orders:write', 'orders:read'] });
    const finance = await createClient(app, {
      enterprise_id: enterprise.id,
      scopes: ['orders:approve', 'orders:read'],
    });
    const hrToken = await app.tokenFor(hr.id, hr.client_secret);
    const financeToken = await app.tokenFor(finance.id, finance.client_secret);
    await recordTransfer(app, operator, {
      enterprise_id: enterprise.id,
      payer_account_name: enterprise.name,
      amount: 200_000,
    }).expect(201);
    const order = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      app.http
        .post('/v1/orders')
        .auth(hrToken, { type: 'bearer' })
        .set(headers)
        .send({ po_number: `PO-${randomInt(1e12)}`, payment_method: 'prepaid_balance', ...body });
    const act = (token: string, orderId: string, action: string, headers: Record<string, string> = {}) =>
      app.http.post(`/v1/orders/${orderId}/${action}`).auth(token, { type: 'bearer' }).set(headers).send({});
    const balance = async () =>
      (await app.http.get('/v1/balance').auth(hrToken, { type: 'bearer' }).expect(200)).body as {
        prepaid_balance: number;
        credit_used: number;
      };
    /** Everything an order or a payment would write for this enterprise. */
    const written = async () => {
      const [row] = await app.dataSource.query<Array<Record<string, number>>>(
        `SELECT (SELECT count(*)::int FROM orders WHERE enterprise_id = $1) AS orders,
                (SELECT count(*)::int FROM payments WHERE enterprise_id = $1) AS payments,
                (SELECT count(*)::int FROM ledger_entries WHERE enterprise_id = $1) AS ledger_entries,
                (SELECT count(*)::int FROM events WHERE enterprise_id = $1) AS events,
                (SELECT coalesce(sum(amount), 0)::int FROM ledger_lines WHERE enterprise_id = $1) AS ledger_sum`,
        [enterprise.id],
      );
      return { ...row, balance: await balance() };
    };
    return { enterprise, hrToken, financeToken, order, act, balance, written };
  }

  function expectFieldProblem(body: Record<string, unknown>, code: string, field: string, message?: string) {
    expect(body).toMatchObject({ status: 400, code, type: `urn:fuli:problem:${code}` });
    const errors = body.errors as FieldErrorBody[];
    expect(errors).toEqual([{ field, code, message: message ?? expect.any(String) }]);
    expect(body.detail).toBe(errors[0].message);
  }

  describe('POST /v1/orders', () => {
    it.each([
      ['quantity 0', { quantity: 0 }, 'invalid_quantity', 'lines.0.quantity', QUANTITY_MESSAGE],
      ['quantity 1,000,001', { quantity: 1_000_001 }, 'invalid_quantity', 'lines.0.quantity', QUANTITY_MESSAGE],
      ['a negative quantity', { quantity: -5 }, 'invalid_quantity', 'lines.0.quantity', QUANTITY_MESSAGE],
      ['a fractional quantity', { quantity: 2.5 }, 'invalid_quantity', 'lines.0.quantity', QUANTITY_MESSAGE],
      ['a face value of 0', { face_value: 0 }, 'invalid_amount', 'lines.0.face_value', undefined],
      ['a negative face value', { face_value: -10_000 }, 'invalid_amount', 'lines.0.face_value', undefined],
      ['a fractional face value', { face_value: 100.5 }, 'invalid_amount', 'lines.0.face_value', undefined],
      ['a face value too large', { face_value: TOO_LARGE }, 'invalid_amount', 'lines.0.face_value', undefined],
      [
        'a greeting over 200 characters',
        { greeting: '福'.repeat(201) },
        'greeting_too_long',
        'lines.0.greeting',
        'greeting must be at most 200 characters',
      ],
    ])('%s', async (_name, fault, code, field, message) => {
      const t = await tenant();
      const before = await t.written();
      const response = await t
        .order({ lines: [{ product_id: product.id, face_value: 10_000, quantity: 1, ...fault }] })
        .expect(400);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expectFieldProblem(response.body, code, field, message);
      expect(await t.written()).toEqual(before);
    });

    it('names the faulty line', async () => {
      const t = await tenant();
      const good = { product_id: product.id, face_value: 10_000, quantity: 1 };
      const response = await t.order({ lines: [good, { ...good, quantity: 0 }] }).expect(400);
      expectFieldProblem(response.body, 'invalid_quantity', 'lines.1.quantity', QUANTITY_MESSAGE);
    });

    it('keeps validation_failed when the faults differ, each listed with its code', async () => {
      const t = await tenant();
      const before = await t.written();
      const response = await t
        .order({ lines: [{ product_id: product.id, face_value: 0, quantity: 0 }], colour: 'red' })
        .expect(400);
      expect(response.body).toMatchObject({ status: 400, code: 'validation_failed', detail: '3 fields are invalid' });
      expect(response.body.errors).toEqual(
        expect.arrayContaining([
          { field: 'colour', code: 'unknown_field', message: "unknown field 'colour'" },
          { field: 'lines.0.quantity', code: 'invalid_quantity', message: QUANTITY_MESSAGE },
          expect.objectContaining({ field: 'lines.0.face_value', code: 'invalid_amount' }),
        ]),
      );
      expect(await t.written()).toEqual(before);
    });

    it('gives generic codes to other faults, under validation_failed', async () => {
      const t = await tenant();
      const response = await t
        .order({ payment_method: 'cash', lines: [{ product_id: product.id, face_value: 10_000, quantity: 1 }] })
        .expect(400);
      expect(response.body).toMatchObject({
        code: 'validation_failed',
        errors: [{ field: 'payment_method', code: 'invalid_value' }],
      });
    });
  });

  describe('POST /v1/admin/payments', () => {
    const AMOUNTS: Array<[string, number]> = [
      ['0', 0],
      ['negative', -100],
      ['fractional (100.5)', 100.5],
      ['too large', TOO_LARGE],
    ];
    const KINDS = ['deposit', 'order_transfer', 'credit_repayment'] as const;
    const CASES = KINDS.flatMap((kind) => AMOUNTS.map(([label, amount]) => [kind, label, amount] as const));

    it.each(CASES)('%s of an amount %s: invalid_amount', async (kind, _label, amount) => {
      const t = await tenant({ credit_limit: 500_000 });
      let orderId: string | undefined;
      if (kind === 'order_transfer') {
        const placed = await t
          .order({
            payment_method: 'bank_transfer',
            lines: [{ product_id: product.id, face_value: 10_000, quantity: 2 }],
          })
          .expect(201);
        orderId = placed.body.id as string;
      }
      const before = await t.written();
      const response = await recordTransfer(app, operator, {
        enterprise_id: t.enterprise.id,
        payer_account_name: t.enterprise.name,
        kind,
        amount,
        ...(orderId ? { order_id: orderId } : {}),
      }).expect(400);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expectFieldProblem(
        response.body,
        'invalid_amount',
        'amount',
        'amount must be a whole number of fen of at least 1',
      );
      expect(await t.written()).toEqual(before);
    });

    it('a string amount is invalid_amount too, listed once', async () => {
      const t = await tenant();
      const response = await recordTransfer(app, operator, {
        enterprise_id: t.enterprise.id,
        payer_account_name: t.enterprise.name,
        amount: '100' as unknown as number,
      }).expect(400);
      expectFieldProblem(response.body, 'invalid_amount', 'amount');
    });
  });

  describe('enterprise credit limits and approval thresholds', () => {
    const admin = () => app.http.post('/v1/admin/enterprises').auth(operator, { type: 'bearer' });

    it.each([
      ['credit_limit', -1],
      ['credit_limit', 12.5],
      ['credit_limit', TOO_LARGE],
      ['approval_threshold', -100],
      ['approval_threshold', 0.5],
    ])('creating with %s = %p: invalid_amount, no enterprise', async (field, value) => {
      const name = `Bad Amount ${randomUUID()}`;
      const response = await admin()
        .send({ name, credit_code: newCreditCode(), [field]: value })
        .expect(400);
      expectFieldProblem(response.body, 'invalid_amount', field);
      const rows = await app.dataSource.query('SELECT 1 FROM enterprises WHERE name = $1', [name]);
      expect(rows).toHaveLength(0);
    });

    it('updating the credit limit to a negative amount: invalid_amount, limit unchanged', async () => {
      const t = await tenant({ credit_limit: 300_000 });
      const response = await app.http
        .patch(`/v1/admin/enterprises/${t.enterprise.id}`)
        .auth(operator, { type: 'bearer' })
        .send({ credit_limit: -300_000 })
        .expect(400);
      expectFieldProblem(response.body, 'invalid_amount', 'credit_limit');
      const fetched = await app.http
        .get(`/v1/admin/enterprises/${t.enterprise.id}`)
        .auth(operator, { type: 'bearer' })
        .expect(200);
      expect(fetched.body.credit_limit).toBe(300_000);
    });

    it("the enterprise's own approval threshold: invalid_amount, unchanged", async () => {
      const t = await tenant({ approval_threshold: 1_000_000 });
      const response = await app.http
        .patch(`/v1/enterprises/${t.enterprise.id}`)
        .auth(t.financeToken, { type: 'bearer' })
        .send({ approval_threshold: 99.9 })
        .expect(400);
      expectFieldProblem(response.body, 'invalid_amount', 'approval_threshold');
      const [row] = await app.dataSource.query<Array<{ approval_threshold: string }>>(
        'SELECT approval_threshold::text FROM enterprises WHERE id = $1',
        [t.enterprise.id],
      );
      expect(row.approval_threshold).toBe('1000000');
    });
  });

  describe('product face values', () => {
    it.each([
      ['0', 0],
      ['negative', -5_000],
      ['fractional', 10_000.5],
      ['above 5,000 CNY', 500_001],
    ])('a face value %s: invalid_amount, no product', async (_label, value) => {
      const name = `Bad face ${randomUUID()}`;
      const response = await app.http
        .post('/v1/admin/products')
        .auth(operator, { type: 'bearer' })
        .send({ name, card_type: 'anonymous', face_values: [10_000, value], validity_months: 36, designs: ['classic'] })
        .expect(400);
      expectFieldProblem(
        response.body,
        'invalid_amount',
        'face_values',
        'each value in face_values must be a whole number of fen from 5,000 to 500,000',
      );
      const rows = await app.dataSource.query('SELECT 1 FROM products WHERE name = $1', [name]);
      expect(rows).toHaveLength(0);
    });
  });

  describe('redemption amounts', () => {
    let channel: string;
    let clientId: string;
    beforeAll(async () => {
      const client = await createClient(app, { scopes: ['redemptions:write'], name: 'bad-input channel' });
      clientId = client.id;
      channel = await app.tokenFor(client.id, client.client_secret);
    });

    it.each([
      ['debit', 0],
      ['debit', -100],
      ['debit', 1.5],
      ['debit', 5_000_001],
      ['reverse', 0],
      ['reverse', -1],
      ['reverse', 0.5],
    ])('%s of %p: invalid_amount, nothing booked', async (kind, amount) => {
      const path =
        kind === 'debit' ? '/v1/redemptions/debit' : '/v1/redemptions/rdm_01JDQ6ZK6Y8V3N2M4T5R7W9XAB/reverse';
      const body =
        kind === 'debit'
          ? { serial: '1000001', holder_ref: 'holder', amount, reference: randomUUID() }
          : { amount, reference: randomUUID() };
      const response = await app.http.post(path).auth(channel, { type: 'bearer' }).send(body).expect(400);
      expectFieldProblem(
        response.body,
        'invalid_amount',
        'amount',
        'amount must be a whole number of fen from 1 to 5,000,000',
      );
      const rows = await app.dataSource.query('SELECT 1 FROM redemptions WHERE client_id = $1', [clientId]);
      expect(rows).toHaveLength(0);
    });
  });

  describe('cancelling with an Idempotency-Key', () => {
    it('a retry replays the answer and refunds once', async () => {
      const t = await tenant();
      const placed = await t
        .order({ lines: [{ product_id: product.id, face_value: 10_000, quantity: 10 }] })
        .expect(201);
      await t.act(t.financeToken, placed.body.id as string, 'pay').expect(200);
      const paid = await t.balance();
      const key = randomUUID();

      const first = await t.act(t.hrToken, placed.body.id as string, 'cancel', { 'idempotency-key': key }).expect(200);
      expect(first.body.status).toBe('cancelled');
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const refunded = await t.balance();
      expect(refunded.prepaid_balance).toBe(paid.prepaid_balance + (placed.body.payable as number));
      const afterFirst = await t.written();

      const second = await t.act(t.hrToken, placed.body.id as string, 'cancel', { 'idempotency-key': key }).expect(200);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.body).toEqual(first.body);
      expect(await t.written()).toEqual(afterFirst);
      const cancelled = await app.dataSource.query(
        "SELECT 1 FROM events WHERE enterprise_id = $1 AND type = 'order.cancelled'",
        [t.enterprise.id],
      );
      expect(cancelled).toHaveLength(1);

      // Without the key, a second cancel is the state machine's 409, still refunding nothing.
      await t.act(t.hrToken, placed.body.id as string, 'cancel').expect(409);
      expect((await t.balance()).prepaid_balance).toBe(refunded.prepaid_balance);
    });

    it('approve and reject take a key as well', async () => {
      const t = await tenant({ approval_threshold: 0 });
      const lines = [{ product_id: product.id, face_value: 10_000, quantity: 1 }];
      const toApprove = await t.order({ lines }).expect(201);
      const toReject = await t.order({ lines }).expect(201);
      expect(toApprove.body.status).toBe('pending_approval');
      for (const [placed, action, status] of [
        [toApprove, 'approve', 'pending_payment'],
        [toReject, 'reject', 'rejected'],
      ] as const) {
        const key = randomUUID();
        const first = await t
          .act(t.financeToken, placed.body.id as string, action, { 'idempotency-key': key })
          .expect(200);
        expect(first.body.status).toBe(status);
        const again = await t
          .act(t.financeToken, placed.body.id as string, action, { 'idempotency-key': key })
          .expect(200);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(again.body).toEqual(first.body);
      }
    });
  });
});
