import type { AuditService } from '../audit/audit.service';
import type { CardsRepository } from '../cards/cards.repository';
import type { CatalogService } from '../catalog/catalog.service';
import type { Product } from '../catalog/product.entity';
import { RequestContext } from '../common/context/request-context';
import { AppConfig } from '../config/app-config';
import type { TransactionService } from '../database/transaction.service';
import type { LedgerService } from '../ledger/ledger.service';
import type { Order, OrderLine } from '../orders/order.entity';
import { OrderLifecycleHooks } from '../orders/order-lifecycle-hooks';
import type { OrdersService } from '../orders/orders.service';
import type { QueueService } from '../queue/queue.service';
import type { EventsService } from '../events/events.service';
import type { CardSecrets } from '../cards/card-secrets';
import type { IssuanceBatch } from './issuance.entity';
import { MetricsService } from '../metrics/metrics.service';
import { IssuanceMetrics } from './issuance-metrics';
import type { IssuanceRepository } from './issuance.repository';
import { IssuanceService } from './issuance.service';

class FakeIssuanceRepository {
  readonly batches = new Map<string, IssuanceBatch>();
  nextSerial = 1_000;
  cancelled: string[] = [];
  async reserveSerials(_ctx: RequestContext, count: number): Promise<number> {
    const first = this.nextSerial;
    this.nextSerial += count;
    return first;
  }
  async insertBatch(_ctx: RequestContext, batch: IssuanceBatch): Promise<void> {
    this.batches.set(batch.id, { ...batch });
  }
  async unmintedChunks(_ctx: RequestContext, ids: readonly string[]) {
    return ids.flatMap((batchId) => {
      const batch = this.batches.get(batchId)!;
      return Array.from({ length: Math.ceil(batch.count / batch.chunkSize) }, (_, chunkNo) => ({ batchId, chunkNo }));
    });
  }
  async batchesOf(_ctx: RequestContext, orderIds: readonly string[]) {
    return [...this.batches.values()].filter((batch) => orderIds.includes(batch.orderId));
  }
  async findBatch(_ctx: RequestContext, id: string) {
    return this.batches.get(id) ?? null;
  }
  async cancelQueued(_ctx: RequestContext, orderId: string) {
    this.cancelled.push(orderId);
  }
}

const ORDER = { id: 'ord_1', enterpriseId: 'ent_1' } as Order;

function setup() {
  const repository = new FakeIssuanceRepository();
  const hooks = new OrderLifecycleHooks();
  const lines: OrderLine[] = [
    { lineNo: 1, productId: 'prd_a', faceValue: 10_000, quantity: 25 } as OrderLine,
    { lineNo: 2, productId: 'prd_b', faceValue: 50_000, quantity: 5 } as OrderLine,
  ];
  const products = new Map<string, Product>([
    ['prd_a', { id: 'prd_a', cardType: 'anonymous', validityMonths: 36 } as Product],
    ['prd_b', { id: 'prd_b', cardType: 'registered', validityMonths: null } as Product],
  ]);
  const afterCommit: Array<() => Promise<void>> = [];
  const transactions = {
    run: async <T>(_ctx: RequestContext, work: () => Promise<T>) => work(),
    afterCommit: async (_ctx: RequestContext, callback: () => Promise<void>) => {
      afterCommit.push(callback);
    },
  };
  const enqueued: string[] = [];
  const queues = {
    add: async (_job: string, _payload: unknown, options: { jobId: string }) => enqueued.push(options.jobId),
  };
  const config = Object.assign(new AppConfig(), { ISSUANCE_CHUNK_SIZE: 10 });
  const service = new IssuanceService(
    repository as unknown as IssuanceRepository,
    {
      reserve: async (ctx: RequestContext, count: number) => BigInt(await repository.reserveSerials(ctx, count)),
    } as unknown as CardsRepository,
    { linesOf: async () => lines } as unknown as OrdersService,
    hooks,
    { productsByIds: async () => products } as unknown as CatalogService,
    transactions as unknown as TransactionService,
    config,
    {} as CardSecrets,
    {} as LedgerService,
    {} as EventsService,
    queues as unknown as QueueService,
    {} as AuditService,
    new IssuanceMetrics(new MetricsService()),
  );
  service.onModuleInit();
  return { service, repository, hooks, afterCommit, enqueued };
}

describe('IssuanceService', () => {
  it('plans a paid order through the orders hook: a batch per line, serials reserved, chunks enqueued after commit', async () => {
    const { repository, hooks, afterCommit, enqueued } = setup();
    await hooks.paid(RequestContext.system(), ORDER);
    const batches = [...repository.batches.values()];
    expect(
      batches.map((batch) => [batch.lineNo, batch.count, batch.serialStart, batch.cardType, batch.status]),
    ).toEqual([
      [1, 25, 1_000, 'anonymous', 'queued'],
      [2, 5, 1_025, 'registered', 'queued'],
    ]);
    expect(batches[0].expiresAt).not.toBeNull();
    expect(batches[1].expiresAt).toBeNull();
    expect(enqueued).toEqual([]);
    for (const callback of afterCommit) await callback();
    expect(enqueued).toEqual([
      `mint-${batches[0].id}-0`,
      `mint-${batches[0].id}-1`,
      `mint-${batches[0].id}-2`,
      `mint-${batches[1].id}-0`,
    ]);
  });

  it('cancels the queued batches of a paid order that is cancelled, and shows progress on the order', async () => {
    const { repository, hooks } = setup();
    await hooks.paid(RequestContext.system(), ORDER);
    await hooks.paidOrderCancelled(RequestContext.system(), ORDER);
    expect(repository.cancelled).toEqual([ORDER.id]);
    const progress = await hooks.issuanceOf(RequestContext.system(), [ORDER.id]);
    expect(progress.get(ORDER.id)?.map((batch) => batch.line_no)).toEqual([1, 2]);
  });

  it('retries only a failed batch', async () => {
    const { service, repository, hooks } = setup();
    await hooks.paid(RequestContext.system(), ORDER);
    const [batch] = repository.batches.values();
    await expect(service.retryBatch(RequestContext.system(), batch.id)).rejects.toMatchObject({
      code: 'invalid_state',
    });
  });
});
