import { CompliancePolicy } from '../catalog/compliance.policy';
import type { CatalogService } from '../catalog/catalog.service';
import type { Product } from '../catalog/product.entity';
import type { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import type { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import { IdempotencyClaims } from '../idempotency/idempotency-claims';
import { AppConfig } from '../config/app-config';
import type { TransactionService } from '../database/transaction.service';
import type { Enterprise } from '../enterprises/enterprise.entity';
import type { EnterprisesService } from '../enterprises/enterprises.service';
import { LedgerAccount } from '../ledger/ledger.entity';
import type { LedgerService } from '../ledger/ledger.service';
import type { EventsService } from '../events/events.service';
import type { CreateOrderDto } from './dto/create-order.dto';
import type { Order, OrderLine } from './order.entity';
import { OrderLifecycleHooks } from './order-lifecycle-hooks';
import type { NewOrderOutcome, NewOrderWrite, OrderChanges, OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';

const ENTERPRISE_ID = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';
const PRODUCT_ID = 'prd_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';

function product(overrides: Partial<Product> = {}): Product {
  return {
    id: PRODUCT_ID,
    name: 'Welfare card',
    description: null,
    cardType: 'anonymous',
    faceValues: [10_000, 50_000],
    validityMonths: 36,
    designs: ['classic'],
    greetingAllowed: true,
    active: true,
    createdAt: new Date(),
    updatedAt: new Date(),
    ...overrides,
  };
}

function enterprise(overrides: Partial<Enterprise> = {}): Enterprise {
  return {
    id: ENTERPRISE_ID,
    name: 'Acme',
    creditCode: '91350100M000100Y43',
    status: 'active',
    invoiceTitle: 'Acme',
    registeredAddress: null,
    phone: null,
    bankName: null,
    bankAccount: null,
    contactEmail: null,
    discountBps: 200,
    creditLimit: 0,
    approvalThreshold: null,
    currency: 'CNY',
    createdAt: new Date(),
    updatedAt: new Date(),
    ...overrides,
  };
}

/** The orders table in memory, and what the service asked of it. */
class FakeOrdersRepository {
  readonly orders = new Map<string, Order>();
  readonly lines: OrderLine[] = [];
  readonly writes: NewOrderWrite[] = [];
  transfers = new Map<string, number>();
  /** What the next insertOrder answers (then 'created'). */
  next: NewOrderOutcome[] = [];

  async insertOrder(_ctx: RequestContext, write: NewOrderWrite): Promise<NewOrderOutcome> {
    this.writes.push(write);
    const outcome = this.next.shift() ?? { outcome: 'created' };
    if (outcome.outcome === 'created') {
      this.orders.set(write.order.id, { ...write.order });
      this.lines.push(...write.lines);
    }
    return outcome;
  }
  async orderIdByPoNumber(): Promise<string | null> {
    return 'ord_existing';
  }
  async findOrder(_ctx: RequestContext, id: string, options: { enterpriseId?: string } = {}): Promise<Order | null> {
    const order = this.orders.get(id);
    if (!order || (options.enterpriseId !== undefined && order.enterpriseId !== options.enterpriseId)) return null;
    return { ...order };
  }
  async updateOrder(_ctx: RequestContext, id: string, changes: OrderChanges): Promise<Date> {
    const updatedAt = new Date();
    Object.assign(this.orders.get(id)!, changes, { updatedAt });
    return updatedAt;
  }
  async linesOf(_ctx: RequestContext, ids: readonly string[]): Promise<OrderLine[]> {
    return this.lines.filter((line) => ids.includes(line.orderId));
  }
  async transferredTo(): Promise<Map<string, number>> {
    return this.transfers;
  }
}

function setup(options: { enterprise?: Partial<Enterprise>; product?: Partial<Product>; prepaid?: number } = {}) {
  const repository = new FakeOrdersRepository();
  let currentProduct = product(options.product);
  let currentEnterprise = enterprise(options.enterprise);
  const reads = { enterprise: 0, products: 0 };
  const transactions = {
    async run<T>(ctx: RequestContext, work: () => Promise<T>): Promise<T> {
      if (ctx.transaction) return work();
      ctx.bindTransaction({ manager: {} as never, afterCommit: [] });
      try {
        return await work();
      } finally {
        ctx.bindTransaction(undefined);
      }
    },
  };
  const catalog = {
    async findForOrder(_ctx: RequestContext, ids: readonly string[]) {
      reads.products++;
      return new Map(
        currentProduct.active && ids.includes(currentProduct.id) ? [[currentProduct.id, currentProduct]] : [],
      );
    },
  };
  const enterprises = {
    async findActive() {
      reads.enterprise++;
      return currentEnterprise;
    },
  };
  const postings: Array<{ kind: string; lines: Array<{ account: LedgerAccount; amount: number }> }> = [];
  const ledger = {
    lockEnterpriseFunds: jest.fn(async () => undefined),
    prepaidBalance: jest.fn(async () => options.prepaid ?? 0),
    creditUsed: jest.fn(async () => 0),
    post: jest.fn(async (_ctx: RequestContext, entry: (typeof postings)[number]) => {
      postings.push(entry);
    }),
    listEntries: jest.fn(async () => ({
      data: postings.filter((entry) => entry.kind === 'order_payment').map((entry) => ({ lines: entry.lines })),
    })),
  };
  const events: string[] = [];
  const eventsService = {
    record: jest.fn(async (_ctx: RequestContext, event: { type: string }) => events.push(event.type)),
  };
  const audit = { record: jest.fn(async () => undefined), append: jest.fn(async () => undefined) };
  const cipher = { encrypt: (plain: string) => `sealed:${plain.length}` };
  const hooks = new OrderLifecycleHooks();
  const claims = new IdempotencyClaims();
  const service = new OrdersService(
    repository as unknown as OrdersRepository,
    transactions as unknown as TransactionService,
    catalog as unknown as CatalogService,
    new CompliancePolicy(new AppConfig()),
    enterprises as unknown as EnterprisesService,
    ledger as unknown as LedgerService,
    eventsService as unknown as EventsService,
    audit as unknown as AuditService,
    cipher as unknown as DataCipher,
    hooks,
    claims,
  );
  return {
    service,
    repository,
    reads,
    postings,
    events,
    hooks,
    claims,
    setProduct: (changes: Partial<Product>) => (currentProduct = { ...currentProduct, ...changes }),
    setEnterprise: (changes: Partial<Enterprise>) => (currentEnterprise = { ...currentEnterprise, ...changes }),
  };
}

function hr(): RequestContext {
  return new RequestContext('req_test', {
    clientId: 'cli_hr',
    enterpriseId: ENTERPRISE_ID,
    scopes: new Set(['orders:write', 'orders:read']),
  });
}

function finance(): RequestContext {
  return new RequestContext('req_test', {
    clientId: 'cli_finance',
    enterpriseId: ENTERPRISE_ID,
    scopes: new Set(['orders:approve', 'orders:read']),
  });
}

function dto(overrides: Partial<CreateOrderDto> = {}): CreateOrderDto {
  return {
    po_number: `PO-${Math.random()}`,
    payment_method: 'prepaid_balance',
    lines: [{ product_id: PRODUCT_ID, face_value: 10_000, quantity: 3 }],
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('OrdersService', () => {
  describe('create', () => {
    it('prices the order with the discount and writes it, its lines and its event in one statement', async () => {
      const { service, repository } = setup();
      const order = await service.create(hr(), dto());
      expect(order).toMatchObject({
        status: 'pending_payment',
        face_total: 30_000,
        discount_total: 600,
        payable: 29_400,
      });
      expect(repository.writes).toHaveLength(1);
      const [write] = repository.writes;
      expect(write.lines).toHaveLength(1);
      expect(write.events.map((event) => event.type)).toEqual(['order.created']);
      expect(write.enterpriseTerms).toEqual({ id: ENTERPRISE_ID, discountBps: 200, approvalThreshold: null });
      expect(write.productTerms).toEqual([
        {
          id: PRODUCT_ID,
          cardType: 'anonymous',
          faceValues: [10_000, 50_000],
          designs: ['classic'],
          greetingAllowed: true,
        },
      ]);
    });

    it('reads the terms for the first order only: the next one is checked on them by its statement', async () => {
      const { service, reads } = setup();
      await service.create(hr(), dto());
      await service.create(hr(), dto());
      expect(reads).toEqual({ enterprise: 1, products: 1 });
    });

    it('reads the terms afresh when the statement finds they changed', async () => {
      const { service, repository, reads, setEnterprise } = setup();
      await service.create(hr(), dto());
      setEnterprise({ discountBps: 500 });
      repository.next = [{ outcome: 'stale_terms' }];
      const order = await service.create(hr(), dto());
      expect(order.discount_bps).toBe(500);
      expect(reads.enterprise).toBe(2);
    });

    it('explains a refusal on remembered terms with fresh ones', async () => {
      const { service, repository, setProduct } = setup();
      await service.create(hr(), dto());
      setProduct({ faceValues: [10_000, 20_000] });
      // Remembered terms refuse 20,000; the fresh ones offer it.
      const order = await service.create(
        hr(),
        dto({ lines: [{ product_id: PRODUCT_ID, face_value: 20_000, quantity: 1 }] }),
      );
      expect(order.face_total).toBe(20_000);
      setProduct({ active: false });
      // The statement finds the remembered product withdrawn.
      repository.next = [{ outcome: 'stale_terms' }];
      expect((await rejection(service.create(hr(), dto()))).code).toBe('product_not_found');
    });

    it('waits for approval above the threshold, with a second event', async () => {
      const { service, repository } = setup({ enterprise: { approvalThreshold: 10_000 } });
      const order = await service.create(hr(), dto());
      expect(order.status).toBe('pending_approval');
      expect(repository.writes[0].events.map((event) => event.type)).toEqual([
        'order.created',
        'order.approval_required',
      ]);
    });

    it('refuses a face value not offered, a design not offered and a greeting not allowed', async () => {
      const { service } = setup({ product: { greetingAllowed: false } });
      const line = (extra: object) =>
        dto({
          lines: [{ product_id: PRODUCT_ID, face_value: 10_000, quantity: 1, ...extra }],
        });
      expect((await rejection(service.create(hr(), line({ face_value: 30_000 })))).code).toBe('face_value_not_offered');
      expect((await rejection(service.create(hr(), line({ design: 'gold' })))).code).toBe('design_not_offered');
      expect((await rejection(service.create(hr(), line({ greeting: 'Hi' })))).code).toBe('greeting_not_allowed');
    });

    it('names the order that holds a PO number already', async () => {
      const { service, repository } = setup();
      repository.next = [{ outcome: 'po_number_taken' }];
      const refused = await rejection(service.create(hr(), dto()));
      expect(refused.code).toBe('po_number_exists');
    });

    it('stores the Idempotency-Key with the order, refuses while it is held, and reports an earlier response', async () => {
      const { service, repository, claims } = setup();
      const claim = {
        clientId: 'cli_hr',
        key: 'k1',
        fingerprint: 'f',
        responseStatus: 201,
        seal: (body: object) => body,
      };
      let ctx = hr();
      claims.begin(ctx, claim);
      await service.create(ctx, dto());
      expect(repository.writes[0].idempotency?.claim).toBe(claim);
      expect(claims.end(ctx)).toEqual({ stored: true });

      ctx = hr();
      claims.begin(ctx, claim);
      repository.next = [{ outcome: 'key_in_use' }];
      expect((await rejection(service.create(ctx, dto()))).code).toBe('idempotency_key_in_use');

      ctx = hr();
      claims.begin(ctx, claim);
      const earlier = { fingerprint: 'f', responseBody: { sealed: 'x' } };
      repository.next = [{ outcome: 'replay', earlier }];
      await service.create(ctx, dto());
      expect(claims.end(ctx)).toEqual({ stored: false, earlier });
    });
  });

  describe('paying and cancelling', () => {
    async function placed(options: Parameters<typeof setup>[0] = {}) {
      const world = setup(options);
      const order = await world.service.create(hr(), dto());
      return { ...world, orderId: order.id };
    }

    it('refuses to pay from a prepaid balance that does not cover the order', async () => {
      const { service, orderId } = await placed({ prepaid: 100 });
      expect((await rejection(service.pay(finance(), orderId))).code).toBe('insufficient_prepaid_balance');
    });

    it('pays from the prepaid balance: the entry, the event, and issuance planned through its hook', async () => {
      const { service, orderId, postings, events, hooks } = await placed({ prepaid: 1_000_000 });
      const paid: string[] = [];
      hooks.onPaid(async (_ctx, order) => {
        paid.push(order.id);
      });
      const order = await service.pay(finance(), orderId);
      expect(order.status).toBe('paid');
      expect(paid).toEqual([orderId]);
      expect(events).toContain('order.paid');
      expect(postings[0]).toMatchObject({
        kind: 'order_payment',
        lines: [
          { account: LedgerAccount.Prepaid, amount: 29_400 },
          { account: LedgerAccount.SalesDiscount, amount: 600 },
          { account: LedgerAccount.UnissuedOrders, amount: -30_000 },
        ],
      });
    });

    it('refunds a paid order that is cancelled, after the issuance hook stopped its batches', async () => {
      const { service, orderId, postings, hooks } = await placed({ prepaid: 1_000_000 });
      const cancelled: string[] = [];
      hooks.onPaidOrderCancelled(async (_ctx, order) => {
        cancelled.push(order.id);
      });
      await service.pay(finance(), orderId);
      const order = await service.cancel(hr(), orderId, { reason: 'changed our mind' });
      expect(order).toMatchObject({ status: 'cancelled', cancellation_reason: 'changed our mind' });
      expect(cancelled).toEqual([orderId]);
      expect(postings[1]).toMatchObject({
        kind: 'order_refund',
        lines: [
          { account: LedgerAccount.Prepaid, amount: -29_400 },
          { account: LedgerAccount.SalesDiscount, amount: -600 },
          { account: LedgerAccount.UnissuedOrders, amount: 30_000 },
        ],
      });
    });

    it('refuses approval by the client that placed the order', async () => {
      const { service, orderId } = await placed({ enterprise: { approvalThreshold: 1 } });
      expect((await rejection(service.approve(hr(), orderId))).code).toBe('self_approval_not_allowed');
      expect((await service.approve(finance(), orderId)).status).toBe('pending_payment');
    });
  });

  describe('issuance moves the order through OrdersService', () => {
    it('starts a paid order issuing, and finishes it only when every batch is issued', async () => {
      const { service, repository, orderId } = await (async () => {
        const world = setup({ prepaid: 1_000_000 });
        const order = await world.service.create(hr(), dto());
        await world.service.pay(finance(), order.id);
        return { ...world, orderId: order.id };
      })();
      const system = RequestContext.system();
      expect(await service.startIssuing(system, orderId)).toBe(true);
      expect(repository.orders.get(orderId)?.status).toBe('issuing');
      expect(await service.finishIssuing(system, orderId, async () => false)).toBe(false);
      expect(repository.orders.get(orderId)?.status).toBe('issuing');
      expect(await service.finishIssuing(system, orderId, async () => true)).toBe(true);
      expect(repository.orders.get(orderId)?.status).toBe('issued');
    });

    it('does not start an order that was cancelled', async () => {
      const { service, orderId } = await (async () => {
        const world = setup();
        const order = await world.service.create(hr(), dto());
        await world.service.cancel(hr(), order.id, {});
        return { ...world, orderId: order.id };
      })();
      expect(await service.startIssuing(RequestContext.system(), orderId)).toBe(false);
    });
  });
});
