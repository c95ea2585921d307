import { randomInt } from 'node:crypto';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { CatalogRepository } from '../catalog/catalog.repository';
import type { RequestContext } from '../common/context/request-context';
import { IdempotencyRepository } from '../idempotency/idempotency.repository';
import { newId } from '../common/ids';
import { creditCodeCheckCharacter } from '../enterprises/credit-code';
import { EnterprisesRepository } from '../enterprises/enterprises.repository';
import type { Order, OrderLine } from './order.entity';
import {
  OrdersRepository,
  paidBetweenDaysSql,
  paidOnSql,
  reconciliationOrdersSql,
  type NewOrderWrite,
} from './orders.repository';

function creditCode(): string {
  const body = `91${String(randomInt(100000, 999999))}MA${String(randomInt(1000000, 9999999))}`;
  return body + creditCodeCheckCharacter(body);
}

describe('OrdersRepository (medium)', () => {
  let db: MediumDatabase;
  let orders: OrdersRepository;

  beforeAll(async () => {
    db = await openMediumDatabase();
    orders = new OrdersRepository(db.connection);
  });
  afterAll(() => db.close());

  /** An enterprise and a product, in the test's transaction; a write of one order for them. */
  async function world(ctx: RequestContext) {
    const enterpriseId = newId('enterprise');
    await new EnterprisesRepository(db.connection).insertIfAbsent(ctx, {
      id: enterpriseId,
      name: 'Medium Co',
      creditCode: creditCode(),
      status: 'active',
      invoiceTitle: 'Medium Co',
      registeredAddress: null,
      phone: null,
      bankName: null,
      bankAccount: null,
      contactEmail: null,
      discountBps: 200,
      creditLimit: 0,
      approvalThreshold: null,
    });
    const product = await new CatalogRepository(db.connection).insert(ctx, {
      id: newId('product'),
      name: 'Medium card',
      description: null,
      cardType: 'anonymous',
      faceValues: [10_000],
      validityMonths: 36,
      designs: ['classic'],
      greetingAllowed: true,
      active: true,
    });
    const write = (poNumber = `PO-${randomInt(1e12)}`): NewOrderWrite => {
      const id = newId('order');
      const now = new Date();
      const order: Order = {
        id,
        enterpriseId,
        poNumber,
        status: 'pending_payment',
        currency: 'CNY',
        faceTotal: 20_000,
        discountBps: 200,
        discountTotal: 400,
        payable: 19_600,
        paymentMethod: 'bank_transfer',
        purchaserCiphertext: null,
        purchaserMasked: null,
        createdByClientId: 'cli_medium',
        decidedByClientId: null,
        decidedAt: null,
        rejectionReason: null,
        cancellationReason: null,
        paidAt: null,
        cancelledAt: null,
        createdAt: now,
        updatedAt: now,
      };
      const lines: OrderLine[] = [1, 2].map((lineNo) => ({
        id: newId('orderLine'),
        orderId: id,
        lineNo,
        productId: product.id,
        faceValue: 10_000,
        quantity: 1,
        faceTotal: 10_000,
        greeting: lineNo === 1 ? '新春快乐' : null,
        design: 'classic',
      }));
      return {
        order,
        lines,
        events: [{ enterpriseId, type: 'order.created', data: { order_id: id } }],
        enterpriseTerms: { id: enterpriseId, discountBps: 200, approvalThreshold: null },
        productTerms: [product],
      };
    };
    return { enterpriseId, product, write };
  }

  it('answers the facts other modules read of an order: owner, discount, purchaser, and its lock', async () => {
    await db.rolledBack(async (ctx) => {
      const { enterpriseId, write } = await world(ctx);
      const placed = write();
      await orders.insertOrder(ctx, placed);
      const id = placed.order.id;
      expect(await orders.isOwnedBy(ctx, id, enterpriseId)).toBe(true);
      expect(await orders.isOwnedBy(ctx, id, newId('enterprise'))).toBe(false);
      expect(await orders.discountsBps(ctx, [id, newId('order')])).toEqual(new Map([[id, 200]]));
      expect(await orders.purchaserCiphertextOf(ctx, id)).toBeNull();
      expect(await orders.lock(ctx, id, enterpriseId)).toEqual({ status: 'pending_payment' });
      expect(await orders.lock(ctx, id, newId('enterprise'))).toBeNull();
      expect(await orders.lock(ctx, newId('order'))).toBeNull();
    });
  });

  it('writes the order, its lines and its event in one statement, reading back as written', async () => {
    await db.rolledBack(async (ctx) => {
      const { write } = await world(ctx);
      const placed = write();
      expect(await orders.insertOrder(ctx, placed)).toEqual({ outcome: 'created' });
      const found = await orders.findOrder(ctx, placed.order.id, { enterpriseId: placed.order.enterpriseId });
      expect(found).toMatchObject({ poNumber: placed.order.poNumber, payable: 19_600, status: 'pending_payment' });
      const lines = await orders.linesOf(ctx, [placed.order.id]);
      expect(lines.map((line) => [line.lineNo, line.greeting, line.faceTotal])).toEqual([
        [1, '新春快乐', 10_000],
        [2, null, 10_000],
      ]);
      const [event] = await db.connection.query<Array<{ type: string }>>(
        ctx,
        "SELECT type FROM events WHERE data->>'order_id' = $1",
        [placed.order.id],
      );
      expect(event.type).toBe('order.created');
      expect(await orders.orderIdByPoNumber(ctx, placed.order.enterpriseId, placed.order.poNumber)).toBe(
        placed.order.id,
      );
    });
  });

  it('writes nothing for a PO number taken or terms that no longer hold', async () => {
    await db.rolledBack(async (ctx) => {
      const { write } = await world(ctx);
      const first = write();
      await orders.insertOrder(ctx, first);
      expect(await orders.insertOrder(ctx, write(first.order.poNumber))).toEqual({ outcome: 'po_number_taken' });
      const stale = write();
      expect(
        await orders.insertOrder(ctx, { ...stale, enterpriseTerms: { ...stale.enterpriseTerms, discountBps: 300 } }),
      ).toEqual({ outcome: 'stale_terms' });
      expect(
        await orders.insertOrder(ctx, {
          ...stale,
          productTerms: [{ ...stale.productTerms[0], faceValues: [10_000, 20_000] }],
        }),
      ).toEqual({ outcome: 'stale_terms' });
      expect(await orders.findOrder(ctx, stale.order.id)).toBeNull();
    });
  });

  it('stores the Idempotency-Key with the order, and answers a second use with the stored response', async () => {
    await db.rolledBack(async (ctx) => {
      const { write } = await world(ctx);
      const claim = {
        clientId: 'cli_medium',
        key: `k-${randomInt(1e12)}`,
        fingerprint: 'f'.repeat(64),
        responseStatus: 201,
        seal: (body: object) => ({ sealed: JSON.stringify(body) }),
      };
      const placed = write();
      expect(
        await orders.insertOrder(ctx, { ...placed, idempotency: { claim, response: { id: placed.order.id } } }),
      ).toEqual({ outcome: 'created' });
      expect(await new IdempotencyRepository(db.connection).find(ctx, claim.clientId, claim.key)).toEqual({
        fingerprint: claim.fingerprint,
        responseBody: { sealed: JSON.stringify({ id: placed.order.id }) },
      });
      const again = write();
      expect(await orders.insertOrder(ctx, { ...again, idempotency: { claim, response: {} } })).toEqual({
        outcome: 'replay',
        earlier: { fingerprint: claim.fingerprint, responseBody: { sealed: JSON.stringify({ id: placed.order.id }) } },
      });
      expect(await orders.findOrder(ctx, again.order.id)).toBeNull();
    });
  });

  it("hands reconciliation the enterprise's orders as an ERP sees them: what was paid, and on which Shanghai day", async () => {
    await db.rolledBack(async (ctx) => {
      const { enterpriseId, write } = await world(ctx);
      const other = await world(ctx);
      const [paid, unpaid] = [write(), write()];
      for (const placed of [paid, unpaid, other.write()]) await orders.insertOrder(ctx, placed);
      // 17:30 UTC is 01:30 the next day in Shanghai.
      await orders.updateOrder(ctx, paid.order.id, { status: 'paid', paidAt: new Date('2026-11-30T17:30:00Z') });
      const rows = await db.connection.query<unknown[]>(
        ctx,
        `SELECT id, po_number, status, paid_amount::int AS paid_amount, ${paidOnSql('o.paid_at')}::text AS paid_on
           FROM (${reconciliationOrdersSql(1)}) o ORDER BY paid_at NULLS LAST`,
        [enterpriseId],
      );
      expect(rows).toEqual([
        {
          id: paid.order.id,
          po_number: paid.order.poNumber,
          status: 'paid',
          paid_amount: 19_600,
          paid_on: '2026-12-01',
        },
        {
          id: unpaid.order.id,
          po_number: unpaid.order.poNumber,
          status: 'pending_payment',
          paid_amount: 0,
          paid_on: null,
        },
      ]);
      // Its Shanghai day is 2026-12-01, from 2026-11-30T16:00Z (included) to 2026-12-01T16:00Z (not included).
      const between = async (from: string, to: string) =>
        (
          await db.connection.query<Array<{ id: string }>>(
            ctx,
            `SELECT id FROM (${reconciliationOrdersSql(1)}) o WHERE ${paidBetweenDaysSql('o.paid_at', 2, 3)}`,
            [enterpriseId, from, to],
          )
        ).map((row) => row.id);
      expect(await between('2026-12-01', '2026-12-01')).toEqual([paid.order.id]);
      expect(await between('2026-11-01', '2026-11-30')).toEqual([]);
      expect(await between('2026-12-02', '2026-12-31')).toEqual([]);
      for (const [paidAt, inside] of [
        ['2026-11-30T16:00:00Z', true],
        ['2026-11-30T15:59:59.999Z', false],
        ['2026-12-01T15:59:59.999Z', true],
        ['2026-12-01T16:00:00Z', false],
      ] as const) {
        await orders.updateOrder(ctx, paid.order.id, { paidAt: new Date(paidAt) });
        expect(await between('2026-12-01', '2026-12-01')).toEqual(inside ? [paid.order.id] : []);
      }
    });
  });

  it('changes an order and sums its transfers', async () => {
    await db.rolledBack(async (ctx) => {
      const { write } = await world(ctx);
      const placed = write();
      await orders.insertOrder(ctx, placed);
      const cancelledAt = new Date();
      await orders.updateOrder(ctx, placed.order.id, { status: 'cancelled', cancelledAt, cancellationReason: 'no' });
      expect(await orders.findOrder(ctx, placed.order.id, { lock: true })).toMatchObject({
        status: 'cancelled',
        cancellationReason: 'no',
      });
      for (const amount of [5_000, 7_000]) {
        expect(
          await orders.insertPayment(ctx, {
            id: newId('payment'),
            enterpriseId: placed.order.enterpriseId,
            orderId: placed.order.id,
            kind: 'order_transfer',
            amount,
            currency: 'CNY',
            payerAccountName: 'Medium Co',
            payerAccountNumber: '1',
            bankReference: `REF-${randomInt(1e12)}`,
            receivedAt: new Date(),
            recordedByClientId: 'cli_medium',
          }),
        ).toBe(true);
      }
      expect(await orders.transferredTo(ctx, [placed.order.id])).toEqual(new Map([[placed.order.id, 12_000]]));
    });
  });
});
