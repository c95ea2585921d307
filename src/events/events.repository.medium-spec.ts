import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import { eventInsertSql, EventsRepository, MAX_EVENT_PAYLOAD_BYTES } from './events.repository';

describe('EventsRepository (real Postgres)', () => {
  let db: MediumDatabase;
  let events: EventsRepository;
  const enterpriseId = newId('enterprise');

  beforeAll(async () => {
    db = await openMediumDatabase();
    events = new EventsRepository(db.connection);
  });
  afterAll(() => db.close());

  it('inserts an event in the context transaction and reads it back for its enterprise only', () =>
    db.rolledBack(async (ctx) => {
      const event = await events.insert(ctx, { enterpriseId, type: 'order.paid', data: { order_id: 'ord_1' } });
      expect(event).toMatchObject({ enterpriseId, type: 'order.paid', schemaVersion: 1, relayedAt: null });
      expect(event.createdAt).toBeInstanceOf(Date);
      expect(await events.findOfEnterprise(ctx, event.id, enterpriseId)).toMatchObject({ id: event.id });
      expect(await events.findOfEnterprise(ctx, event.id, newId('enterprise'))).toBeNull();
    }));

  it('refuses to insert outside a transaction', async () => {
    await expect(events.insert(RequestContext.system(), { enterpriseId, type: 'ping', data: {} })).rejects.toThrow(
      /inside a transaction/,
    );
  });

  it('lists newest first, filtered by type and time, page by page', () =>
    db.rolledBack(async (ctx) => {
      for (const type of ['order.paid', 'card.debited', 'order.paid'] as const)
        await events.insert(ctx, { enterpriseId, type, data: {} });
      const paid = await events.list(ctx, enterpriseId, { type: 'order.paid', limit: 1 });
      expect(paid.data).toHaveLength(1);
      expect(paid.has_more).toBe(true);
      const rest = await events.list(ctx, enterpriseId, { type: 'order.paid', starting_after: paid.next_cursor! });
      expect(rest.data).toHaveLength(1);
      expect(rest.data[0].id < paid.data[0].id).toBe(true);
      const future = await events.list(ctx, enterpriseId, { created_gte: new Date(Date.now() + 60_000).toISOString() });
      expect(future.data).toEqual([]);
    }));

  it('hands unrelayed events to one relay at a time, and forgets them once relayed', () =>
    db.rolledBack(async (ctx) => {
      const pending = await events.insert(ctx, { enterpriseId, type: 'order.paid', data: {} });
      const relayed = await events.insert(ctx, { enterpriseId, type: 'ping', data: {}, relayed: true });
      expect(relayed.relayedAt).toBeInstanceOf(Date);
      const locked = await events.lockUnrelayed(ctx, 10_000);
      expect(locked.map((event) => event.id)).toContain(pending.id);
      expect(locked.map((event) => event.id)).not.toContain(relayed.id);
      await events.markRelayed(ctx, [pending.id]);
      expect((await events.lockUnrelayed(ctx, 10_000)).map((event) => event.id)).not.toContain(pending.id);
    }));

  it('gives a fragment that composes into a one-statement write (data-modifying CTE)', () =>
    db.rolledBack(async (ctx) => {
      const fragment = eventInsertSql({ enterpriseId, type: 'card.debited', data: { amount: 500 } }, 2);
      const rows = await db.connection.query<Array<{ id: string; marker: string }>>(
        ctx,
        `WITH event AS (${fragment.sql}) SELECT event.id, $1::text AS marker FROM event`,
        ['mine', ...fragment.params],
      );
      expect(rows).toEqual([{ id: fragment.params[0], marker: 'mine' }]);
      expect(await events.findOfEnterprise(ctx, rows[0].id, enterpriseId)).toMatchObject({ data: { amount: 500 } });
    }));

  it('checks the payload in the fragment: size, shape and type', () => {
    const big = { blob: 'x'.repeat(MAX_EVENT_PAYLOAD_BYTES) };
    expect(() => eventInsertSql({ enterpriseId, type: 'order.paid', data: big }, 1)).toThrow(/limit/);
    expect(() => eventInsertSql({ enterpriseId, type: 'order.paid', data: [] as never }, 1)).toThrow(/object/);
    expect(() => eventInsertSql({ enterpriseId, type: 'order.teleported' as never, data: {} }, 1)).toThrow(/unknown/);
  });
});
