import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { IssuanceService } from '../src/issuance/issuance.service';
import { startTestApp, type TestApp } from './support/app';
import { createClient, createEnterprise, createProduct, recordTransfer } from './support/fixtures';

/**
 * Model-based, like the ledger's property (test/ledger.e2e-spec.ts), with the cards in it: random sequences of
 * deposits, repayments, orders paid from prepaid or on credit, minting, voids of unused cards and cancellations
 * keep the enterprise's funds as modelled, and credit never turns into prepaid balance: the prepaid balance never
 * exceeds the money that actually arrived by bank transfer.
 */
describe('property: voids and cancellations refund to where the money came from', () => {
  let app: TestApp;
  let operator: string;
  let productId: string;

  /** Odd fen amounts, so that per-card and per-order rounding of the discount differ. All anonymous. */
  const FACE_VALUES = [5_001, 12_345];
  type Method = 'prepaid_balance' | 'credit_line';

  interface ModelOrder {
    id: string;
    method: Method;
    face: number;
    payable: number;
    status: 'pending_payment' | 'paid' | 'issued' | 'cancelled';
    /** Unused cards, by serial, once minted. */
    cards: string[];
    /** What the order drew on the credit line and has not had back. */
    credit: number;
  }
  interface Model {
    creditLimit: number;
    discountBps: number;
    prepaid: number;
    creditUsed: number;
    /** Σ of what arrived by bank transfer: deposits and repayments. */
    bankIn: number;
    orders: ModelOrder[];
  }
  interface Real {
    enterpriseId: string;
    enterpriseName: string;
    token: string;
  }
  type Command = fc.AsyncCommand<Model, Real>;
  type Response = { status: number; body: { code?: string } & Record<string, unknown> };

  beforeAll(async () => {
    // Paid orders wait before minting: the Mint command mints when the model says so (cancel stays possible until then).
    app = await startTestApp({ ISSUANCE_DELAY_SECONDS: '3600', RATE_LIMIT_REQUESTS: '100000' });
    operator = await app.operatorToken();
    productId = (await createProduct(app, { face_values: FACE_VALUES })).id;
  });
  afterAll(async () => {
    await app?.close();
  });

  const outcome = (response: Response) => ({ status: response.status, code: response.body.code ?? null });
  const ok = (status: number) => ({ status, code: null });
  const problem = (status: number, code: string) => ({ status, code });
  /** face − round half up (face × bps / 10000): the documented rule, computed here independently of pricing.ts. */
  const discounted = (face: number, bps: number) => face - Math.floor((face * bps + 5_000) / 10_000);
  const pick = <T>(items: T[], index: number) => items[index % items.length];

  /** The refund rule as documented: back to the credit line first, as far as the order and the enterprise owe it. */
  function refund(m: Model, order: ModelOrder, amount: number): { toCredit: number; toPrepaid: number } {
    const toCredit = Math.min(amount, order.credit, m.creditUsed);
    order.credit -= toCredit;
    m.creditUsed -= toCredit;
    m.prepaid += amount - toCredit;
    return { toCredit, toPrepaid: amount - toCredit };
  }

  async function expectAgreement(m: Model, r: Real): Promise<void> {
    const balance = await app.http.get('/v1/balance').auth(r.token, { type: 'bearer' }).expect(200);
    expect(balance.body).toMatchObject({ prepaid_balance: m.prepaid, credit_used: m.creditUsed });
    // The point of it all: credit never becomes prepaid balance.
    expect(balance.body.prepaid_balance).toBeLessThanOrEqual(m.bankIn);
  }

  class Deposit implements Command {
    constructor(readonly amount: number) {}
    check = () => true;
    async run(m: Model, r: Real) {
      await recordTransfer(app, operator, {
        enterprise_id: r.enterpriseId,
        payer_account_name: r.enterpriseName,
        amount: this.amount,
      }).expect(201);
      m.prepaid += this.amount;
      m.bankIn += this.amount;
      await expectAgreement(m, r);
    }
    toString = () => `deposit(${this.amount})`;
  }

  class Repay implements Command {
    constructor(readonly amount: number) {}
    check = () => true;
    async run(m: Model, r: Real) {
      await recordTransfer(app, operator, {
        enterprise_id: r.enterpriseId,
        payer_account_name: r.enterpriseName,
        amount: this.amount,
        kind: 'credit_repayment',
      }).expect(201);
      const repaid = Math.min(this.amount, m.creditUsed);
      m.creditUsed -= repaid;
      m.prepaid += this.amount - repaid;
      m.bankIn += this.amount;
      await expectAgreement(m, r);
    }
    toString = () => `repay(${this.amount})`;
  }

  class PlaceOrder implements Command {
    constructor(
      readonly method: Method,
      readonly face: number,
      readonly quantity: number,
    ) {}
    check = () => true;
    async run(m: Model, r: Real) {
      const response = await app.http
        .post('/v1/orders')
        .auth(r.token, { type: 'bearer' })
        .send({
          po_number: `VOID-${randomBytes(5).toString('hex')}`,
          payment_method: this.method,
          lines: [{ product_id: productId, face_value: this.face, quantity: this.quantity }],
        });
      expect(outcome(response)).toEqual(ok(201));
      const payable = discounted(this.face * this.quantity, m.discountBps);
      expect(response.body.payable).toBe(payable);
      m.orders.push({
        id: response.body.id as string,
        method: this.method,
        face: this.face,
        payable,
        status: 'pending_payment',
        cards: [],
        credit: 0,
      });
      await expectAgreement(m, r);
    }
    toString = () => `order(${this.method}, ${this.quantity}×${this.face})`;
  }

  /** Mostly an order the command may act on, so that runs get to voids; sometimes any (the refusals). */
  const target = (m: Model, index: number, legal: (order: ModelOrder) => boolean) => {
    const candidates = index % 5 === 4 ? [] : m.orders.filter(legal);
    return pick(candidates.length > 0 ? candidates : m.orders, index);
  };

  class Pay implements Command {
    constructor(readonly index: number) {}
    check = (m: Readonly<Model>) => m.orders.length > 0;
    async run(m: Model, r: Real) {
      const order = target(m, this.index, (candidate) => candidate.status === 'pending_payment');
      const response = await app.http.post(`/v1/orders/${order.id}/pay`).auth(r.token, { type: 'bearer' }).send({});
      if (order.status !== 'pending_payment') {
        expect(outcome(response)).toEqual(problem(409, 'invalid_state'));
      } else if (order.method === 'prepaid_balance' && m.prepaid < order.payable) {
        expect(outcome(response)).toEqual(problem(422, 'insufficient_prepaid_balance'));
      } else if (order.method === 'credit_line' && m.creditUsed + order.payable > m.creditLimit) {
        expect(outcome(response)).toEqual(problem(422, 'credit_limit_exceeded'));
      } else {
        expect(outcome(response)).toEqual(ok(200));
        if (order.method === 'prepaid_balance') m.prepaid -= order.payable;
        else {
          m.creditUsed += order.payable;
          order.credit = order.payable;
        }
        order.status = 'paid';
      }
      await expectAgreement(m, r);
    }
    toString = () => `pay(#${this.index})`;
  }

  /** Mints a paid order's cards now, as its job would. */
  class Mint implements Command {
    constructor(readonly index: number) {}
    check = (m: Readonly<Model>) => m.orders.some((order) => order.status === 'paid');
    async run(m: Model, r: Real) {
      const order = pick(
        m.orders.filter((candidate) => candidate.status === 'paid'),
        this.index,
      );
      const issuance = app.app.get(IssuanceService);
      const batches = await app.dataSource.query<Array<{ id: string }>>(
        'SELECT id FROM issuance_batches WHERE order_id = $1',
        [order.id],
      );
      for (const batch of batches) {
        await issuance.mintChunk({ batchId: batch.id, chunkNo: 0 }, {
          attemptsMade: 0,
          opts: { attempts: 1 },
        } as never);
      }
      const cards = await app.dataSource.query<Array<{ serial: string }>>(
        'SELECT serial::text AS serial FROM cards WHERE order_id = $1 ORDER BY serial',
        [order.id],
      );
      order.cards = cards.map((card) => card.serial);
      order.status = 'issued';
      await expectAgreement(m, r);
    }
    toString = () => `mint(paid #${this.index})`;
  }

  class Void implements Command {
    constructor(
      readonly index: number,
      readonly count: number,
    ) {}
    check = (m: Readonly<Model>) => m.orders.some((order) => order.cards.length > 0);
    async run(m: Model, r: Real) {
      const order = pick(
        m.orders.filter((candidate) => candidate.cards.length > 0),
        this.index,
      );
      const serials = order.cards.slice(0, this.count);
      const response = await app.http.post('/v1/cards/void').auth(r.token, { type: 'bearer' }).send({ serials });
      expect(outcome(response)).toEqual(ok(200));
      const split = refund(m, order, serials.length * discounted(order.face, m.discountBps));
      expect(response.body).toMatchObject({
        voided: serials.length,
        refunded_to_credit: split.toCredit,
        refunded_to_prepaid: split.toPrepaid,
      });
      order.cards = order.cards.slice(serials.length);
      await expectAgreement(m, r);
    }
    toString = () => `void(#${this.index}, ${this.count} card(s))`;
  }

  class Cancel implements Command {
    constructor(readonly index: number) {}
    check = (m: Readonly<Model>) => m.orders.length > 0;
    async run(m: Model, r: Real) {
      const order = target(m, this.index, (candidate) => candidate.status === 'paid');
      const response = await app.http.post(`/v1/orders/${order.id}/cancel`).auth(r.token, { type: 'bearer' }).send({});
      if (order.status === 'issued' || order.status === 'cancelled') {
        expect(outcome(response)).toEqual(problem(409, 'invalid_state'));
      } else {
        expect(outcome(response)).toEqual(ok(200));
        if (order.status === 'paid') {
          if (order.method === 'prepaid_balance') m.prepaid += order.payable;
          else refund(m, order, order.payable);
        }
        order.status = 'cancelled';
      }
      await expectAgreement(m, r);
    }
    toString = () => `cancel(#${this.index})`;
  }

  const index = fc.nat({ max: 7 });
  const commands = fc.commands(
    [
      fc.integer({ min: 1, max: 80_000 }).map((amount) => new Deposit(amount)),
      fc.integer({ min: 1, max: 60_000 }).map((amount) => new Repay(amount)),
      fc
        .tuple(
          fc.constantFrom<Method>('prepaid_balance', 'credit_line', 'credit_line'),
          fc.constantFrom(...FACE_VALUES),
          fc.integer({ min: 1, max: 4 }),
        )
        .map(([method, face, quantity]) => new PlaceOrder(method, face, quantity)),
      index.map((at) => new Pay(at)),
      index.map((at) => new Pay(at)),
      index.map((at) => new Mint(at)),
      index.map((at) => new Mint(at)),
      fc.tuple(index, fc.integer({ min: 1, max: 4 })).map(([at, count]) => new Void(at, count)),
      fc.tuple(index, fc.integer({ min: 1, max: 4 })).map(([at, count]) => new Void(at, count)),
      index.map((at) => new Cancel(at)),
    ],
    { maxCommands: 14, size: 'max' },
  );
  const settings = fc.record({
    creditLimit: fc.constantFrom(30_000, 100_000, 400_000),
    discountBps: fc.constantFrom(0, 200, 333),
  });

  async function runScenario(chosen: { creditLimit: number; discountBps: number }, cmds: Iterable<Command>) {
    const enterprise = await createEnterprise(app, {
      credit_limit: chosen.creditLimit,
      discount_bps: chosen.discountBps,
    });
    const client = await createClient(app, {
      enterprise_id: enterprise.id,
      scopes: ['orders:write', 'orders:read', 'orders:approve', 'cards:write', 'cards:read'],
    });
    const real: Real = {
      enterpriseId: enterprise.id,
      enterpriseName: enterprise.name,
      token: await app.tokenFor(client.id, client.client_secret),
    };
    const model: Model = { ...chosen, prepaid: 0, creditUsed: 0, bankIn: 0, orders: [] };
    await fc.asyncModelRun(() => ({ model, real }), cmds);
    const verify = await app.http.get('/v1/admin/ledger/verify').auth(operator, { type: 'bearer' }).expect(200);
    expect(verify.body).toMatchObject({ ok: true, first_violation: null });
    return model;
  }

  it('holds for 15 runs of up to 14 deposits, repayments, orders, payments, mints, voids and cancellations', async () => {
    await fc.assert(
      fc.asyncProperty(settings, commands, async (chosen, cmds) => {
        await runScenario(chosen, cmds);
      }),
      { numRuns: 15 },
    );
    // Whether random runs reach a void of credit-bought cards is chance; the test below takes that path every time.
  }, 180_000);

  // The path the finding was about, every time: cards bought on credit, voided, do not become prepaid balance.
  it('voids every card of a credit order: the credit line is freed, no prepaid balance appears', async () => {
    const model = await runScenario({ creditLimit: 100_000, discountBps: 333 }, [
      new PlaceOrder('credit_line', 12_345, 4), // 49,380 face, 1,644 off: 47,736 payable
      new Pay(0),
      new Mint(0),
      new Void(0, 3),
      new Void(0, 1),
    ]);
    // Per card 12,345 − 411 = 11,934; four of them are 47,736: all of the credit comes back, nothing to prepaid.
    expect(model).toMatchObject({ prepaid: 0, creditUsed: 0 });
  });
});
