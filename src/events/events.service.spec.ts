import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { newId } from '../common/ids';
import type { TransactionService } from '../database/transaction.service';
import { Event } from './event.entity';
import type { EventsRepository } from './events.repository';
import { EventsService } from './events.service';

const ENTERPRISE = newId('enterprise');

function setUp() {
  const stored: Event[] = [];
  const repository = {
    insert: async (_ctx: unknown, event: { enterpriseId: string; type: string; data: Record<string, unknown> }) => {
      const row = Object.assign(new Event(), {
        id: newId('event'),
        schemaVersion: 1,
        createdAt: new Date(),
        relayedAt: null,
        ...event,
      });
      stored.push(row);
      return row;
    },
    findOfEnterprise: async (_ctx: unknown, id: string, enterpriseId: string) =>
      stored.find((event) => event.id === id && event.enterpriseId === enterpriseId) ?? null,
    list: async () => ({ object: 'list', data: stored, has_more: false, next_cursor: null }),
  };
  const transactions = { run: (_ctx: unknown, work: () => Promise<unknown>) => work() };
  const service = new EventsService(
    transactions as unknown as TransactionService,
    repository as unknown as EventsRepository,
  );
  const ctx = new RequestContext('req_1', { clientId: 'cli_1', enterpriseId: ENTERPRISE, scopes: new Set() });
  return { service, ctx, stored };
}

describe('EventsService', () => {
  it('records through the repository and shows events as the API objects', async () => {
    const { service, ctx } = setUp();
    const event = await service.record(ctx, {
      enterpriseId: ENTERPRISE,
      type: 'order.paid',
      data: { order_id: 'ord_1' },
    });
    await expect(service.get(ctx, event.id)).resolves.toMatchObject({
      object: 'event',
      id: event.id,
      type: 'order.paid',
      schema_version: 1,
      enterprise_id: ENTERPRISE,
      data: { order_id: 'ord_1' },
    });
    const page = await service.list(ctx, {});
    expect(page.data.map((e) => e.id)).toEqual([event.id]);
  });

  it('answers 404 for another tenant’s event and for a malformed id', async () => {
    const { service, ctx } = setUp();
    const foreign = await service.record(ctx, { enterpriseId: newId('enterprise'), type: 'ping', data: {} });
    for (const id of [foreign.id, 'evt_nonsense', 'ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB']) {
      await expect(service.get(ctx, id)).rejects.toBeInstanceOf(ApiError);
    }
  });
});
