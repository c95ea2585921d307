import { Injectable } from '@nestjs/common';
import { In } from 'typeorm';
import { activeProductTermsSql, type ProductOrderTerms } from '../catalog/catalog.repository';
import type { RequestContext } from '../common/context/request-context';
import { idempotencyKeySql, type IdempotencyClaim, type StoredResponse } from '../idempotency/idempotency.repository';
import { type ListQueryDto, type Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { SealedColumnQueries } from '../database/sealed-column-sql';
import { TransactionalConnection } from '../database/transactional-connection';
import { activeEnterpriseTermsSql, type EnterpriseOrderTerms } from '../enterprises/enterprises.repository';
import { Order, OrderLine } from './order.entity';
import type { OrderStatus } from './order-state';
import { eventRowsSql, type NewEvent } from '../events/events.repository';
import { Payment } from './payment.entity';

/** A new order as one statement writes it: the row, its lines, its events, and the terms it was priced on. */
export interface NewOrderWrite {
  order: Order;
  lines: OrderLine[];
  events: NewEvent[];
  enterpriseTerms: EnterpriseOrderTerms;
  productTerms: ProductOrderTerms[];
  /** The request's Idempotency-Key, stored with the order (its response is `response`). */
  idempotency?: { claim: IdempotencyClaim; response: object };
}

/**
 * created; stale_terms: the enterprise or a product no longer has the terms the order was priced on (nothing
 * written); po_number_taken: the enterprise already has an order with this PO number (nothing written);
 * key_in_use: another request holds the Idempotency-Key (nothing written); replay: the Idempotency-Key holds the
 * response of an earlier request (nothing written).
 */
export type NewOrderOutcome =
  | { outcome: 'created' | 'stale_terms' | 'po_number_taken' | 'key_in_use' }
  | { outcome: 'replay'; earlier: StoredResponse };

export interface OrderFilter {
  enterpriseId: string;
  status?: OrderStatus;
  poNumber?: string;
  createdGte?: string;
  createdLt?: string;
}

/** What an order's lifecycle changes after it is placed, and the columns that hold it. */
const ORDER_CHANGE_COLUMNS = {
  status: 'status',
  decidedByClientId: 'decided_by_client_id',
  decidedAt: 'decided_at',
  rejectionReason: 'rejection_reason',
  cancellationReason: 'cancellation_reason',
  paidAt: 'paid_at',
  cancelledAt: 'cancelled_at',
} as const satisfies Partial<Record<keyof Order, string>>;

export type OrderChanges = Partial<Pick<Order, keyof typeof ORDER_CHANGE_COLUMNS>>;

/** What the order statement answers (one row). */
type NewOrderRow = {
  locked: boolean;
  terms_ok: boolean;
  created: boolean;
  earlier_fingerprint: string | null;
  earlier_response: object | null;
};

/** A statement line's PO number: `<alias>.po_number` after this join on the line's `<column>` (an order id). */
export function orderPoNumberJoinSql(column: string, alias: string): string {
  return `LEFT JOIN orders ${alias} ON ${alias}.id = ${column}`;
}

/**
 * The order statement: the Idempotency-Key's look-up and lock (when the request holds one), the check that the
 * enterprise and products still have the terms the order was priced on (products locked FOR SHARE), the order, its
 * lines, its events and the stored response, each insert only if all of that holds. Exported for bench:orders,
 * which runs exactly this statement under pgbench.
 */
export function newOrderSql(write: NewOrderWrite): { sql: string; params: unknown[] } {
  const { order, lines } = write;
  const params: unknown[] = [];
  const next = () => params.length + 1;
  const add = (fragment: { sql: string; params: unknown[] }): string => {
    params.push(...fragment.params);
    return fragment.sql;
  };
  const enterpriseSql = add(activeEnterpriseTermsSql(write.enterpriseTerms, next()));
  const productsSql = add(activeProductTermsSql(write.productTerms, next()));
  const at = next();
  params.push(
    order.id,
    order.enterpriseId,
    order.poNumber,
    order.status,
    order.currency,
    order.faceTotal,
    order.discountBps,
    order.discountTotal,
    order.payable,
    order.paymentMethod,
    order.purchaserCiphertext,
    order.purchaserMasked === null ? null : JSON.stringify(order.purchaserMasked),
    order.createdByClientId,
    order.createdAt,
    write.productTerms.length,
  );
  const p = (offset: number) => `$${at + offset}`;
  const linesAt = next();
  params.push(
    lines.map((line) => line.id),
    lines.map((line) => line.lineNo),
    lines.map((line) => line.productId),
    lines.map((line) => line.faceValue),
    lines.map((line) => line.quantity),
    lines.map((line) => line.faceTotal),
    lines.map((line) => line.greeting),
    lines.map((line) => line.design),
  );
  const l = (offset: number) => `$${linesAt + offset}`;
  const created = 'EXISTS (SELECT 1 FROM o)';
  // One event row per inserted order row (none when the order is not inserted).
  const eventsSql = add(eventRowsSql(write.events, { source: 'o', firstParam: next(), name: 'ev' }));
  const key = write.idempotency
    ? idempotencyKeySql(write.idempotency.claim, write.idempotency.response, next(), created)
    : undefined;
  if (key) params.push(...key.params);
  const sql = `WITH ${key ? `k_stored AS (${key.stored}), k_lock AS (${key.lock}),` : ''}
         e_ok AS (${enterpriseSql}),
         p_ok AS (${productsSql}),
         ok AS (SELECT ${key ? '(SELECT locked FROM k_lock) AND NOT EXISTS (SELECT 1 FROM k_stored)' : 'true'} AS locked,
                       EXISTS (SELECT 1 FROM e_ok) AND (SELECT count(*) FROM p_ok) = ${p(14)}::int AS terms_ok),
         o AS (
           INSERT INTO orders (id, enterprise_id, po_number, status, currency, face_total, discount_bps, discount_total,
                               payable, payment_method, purchaser_ciphertext, purchaser_masked, created_by_client_id,
                               created_at, updated_at)
           SELECT ${p(0)}::text, ${p(1)}::text, ${p(2)}::text, ${p(3)}::text, ${p(4)}::char(3), ${p(5)}::bigint,
                  ${p(6)}::int, ${p(7)}::bigint, ${p(8)}::bigint, ${p(9)}::text, ${p(10)}::text, ${p(11)}::jsonb,
                  ${p(12)}::text, ${p(13)}::timestamptz, ${p(13)}::timestamptz
             FROM ok WHERE ok.locked AND ok.terms_ok
           ON CONFLICT DO NOTHING
           RETURNING id),
         ol AS (
           INSERT INTO order_lines (id, order_id, line_no, product_id, face_value, quantity, face_total, greeting, design)
           SELECT u.id, o.id, u.line_no, u.product_id, u.face_value, u.quantity, u.face_total, u.greeting, u.design
             FROM o, unnest(${l(0)}::text[], ${l(1)}::int[], ${l(2)}::text[], ${l(3)}::int[], ${l(4)}::int[],
                            ${l(5)}::bigint[], ${l(6)}::text[], ${l(7)}::text[])
                  AS u(id, line_no, product_id, face_value, quantity, face_total, greeting, design)),
         ${eventsSql}
         ${key ? `, k AS (${key.insert})` : ''}
       SELECT ok.locked, ok.terms_ok, ${created} AS created,
              ${key ? '(SELECT fingerprint FROM k_stored)' : 'NULL'} AS earlier_fingerprint,
              ${key ? '(SELECT response_body FROM k_stored)' : 'NULL'} AS earlier_response
         FROM ok`;
  return { sql, params };
}

/**
 * For reconciliation's matching statement (docs/architecture.md): a subquery of enterprise `$<enterpriseParam>`'s
 * orders as an ERP sees them: `id`, `po_number`, `status`, `paid_amount` (what was paid: the payable once paid, 0
 * before) and `paid_at` (null before). The day an ERP books it on is paidOnSql of it, computed only for the rows that
 * need it (a time-zone conversion per order of 100,000 showed in bench:reconciliation-match).
 */
export function reconciliationOrdersSql(enterpriseParam: number): string {
  return `SELECT o.id, o.po_number, o.status,
                 CASE WHEN o.paid_at IS NULL THEN 0 ELSE o.payable END AS paid_amount,
                 o.paid_at
            FROM orders o
           WHERE o.enterprise_id = $${enterpriseParam}`;
}

/** The Asia/Shanghai day of a `paid_at` of reconciliationOrdersSql (null before payment). */
export function paidOnSql(paidAt: string): string {
  return `(${paidAt} AT TIME ZONE 'Asia/Shanghai')::date`;
}

/** Whether a `paid_at` falls on an Asia/Shanghai day from date `$<fromParam>` to date `$<toParam>`, both included. */
export function paidBetweenDaysSql(paidAt: string, fromParam: number, toParam: number): string {
  return `(${paidAt} >= ($${fromParam}::date::timestamp AT TIME ZONE 'Asia/Shanghai')
           AND ${paidAt} < (($${toParam}::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'))`;
}

/** The tables `orders`, `order_lines` and `payments` (docs/architecture.md: orders owns them). */
@Injectable()
export class OrdersRepository {
  /** Key rotation's census, page and reseal of orders' sealed column (src/data-keys/sealed-columns.ts). */
  readonly sealedColumns: SealedColumnQueries;

  constructor(private readonly connection: TransactionalConnection) {
    this.sealedColumns = new SealedColumnQueries(connection, ['orders']);
  }

  /**
   * The whole order in ONE statement (docs/architecture.md, order creation: one round trip): newOrderSql.
   * Outside a transaction it is its own (atomic) transaction.
   */
  async insertOrder(ctx: RequestContext, write: NewOrderWrite): Promise<NewOrderOutcome> {
    const { sql, params } = newOrderSql(write);
    // Prepared: the statement's text is a few kilobytes, and its shape repeats (docs/architecture.md).
    const rows = await this.connection.queryPrepared<NewOrderRow>(ctx, sql, params);
    const [row] = rows;
    if (row.created) return { outcome: 'created' };
    if (row.earlier_fingerprint !== null) {
      return {
        outcome: 'replay',
        earlier: { fingerprint: row.earlier_fingerprint, responseBody: row.earlier_response },
      };
    }
    if (!row.locked) return { outcome: 'key_in_use' };
    if (!row.terms_ok) return { outcome: 'stale_terms' };
    return { outcome: 'po_number_taken' };
  }

  async orderIdByPoNumber(ctx: RequestContext, enterpriseId: string, poNumber: string): Promise<string | null> {
    const rows = await this.connection.query<Array<{ id: string }>>(
      ctx,
      'SELECT id FROM orders WHERE enterprise_id = $1 AND po_number = $2',
      [enterpriseId, poNumber],
    );
    return rows[0]?.id ?? null;
  }

  /** The enterprise's order (`enterpriseId` undefined: any), locked FOR UPDATE when `lock`. */
  async findOrder(
    ctx: RequestContext,
    id: string,
    options: { enterpriseId?: string; lock?: boolean } = {},
  ): Promise<Order | null> {
    return this.connection.manager(ctx).findOne(Order, {
      where: options.enterpriseId === undefined ? { id } : { id, enterpriseId: options.enterpriseId },
      ...(options.lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  /**
   * The ids of the enterprise's orders paid in [from, to) whose status is one of `statuses`, oldest payment first
   * (invoicing's monthly run).
   */
  async paidBetween(
    ctx: RequestContext,
    enterpriseId: string,
    from: Date,
    to: Date,
    statuses: readonly OrderStatus[],
  ): Promise<string[]> {
    const rows = await this.connection.query<Array<{ id: string }>>(
      ctx,
      `SELECT id FROM orders WHERE enterprise_id = $1 AND paid_at >= $2 AND paid_at < $3 AND status = ANY($4::text[])
       ORDER BY paid_at, id`,
      [enterpriseId, from, to, [...statuses]],
    );
    return rows.map((row) => row.id);
  }

  /** Newest first, one page. */
  async listOrders(ctx: RequestContext, filter: OrderFilter, page: ListQueryDto): Promise<Page<Order>> {
    const builder = this.connection
      .manager(ctx)
      .createQueryBuilder(Order, 'order')
      .where('order.enterpriseId = :enterpriseId', { enterpriseId: filter.enterpriseId });
    if (filter.status) builder.andWhere('order.status = :status', { status: filter.status });
    if (filter.poNumber) builder.andWhere('order.poNumber = :poNumber', { poNumber: filter.poNumber });
    if (filter.createdGte) builder.andWhere('order.createdAt >= :gte', { gte: filter.createdGte });
    if (filter.createdLt) builder.andWhere('order.createdAt < :lt', { lt: filter.createdLt });
    return paginate(builder, page, (order) => order);
  }

  /** Writes the changed columns (and updated_at); the new updated_at. */
  async updateOrder(ctx: RequestContext, id: string, changes: OrderChanges): Promise<Date> {
    const params: unknown[] = [id];
    const set = Object.entries(changes).map(([property, value]) => {
      params.push(value);
      return `${ORDER_CHANGE_COLUMNS[property as keyof OrderChanges]} = $${params.length}`;
    });
    const [row] = await this.connection.query<Array<{ updated_at: Date }>>(
      ctx,
      // As a SELECT: TypeORM returns [rows, count] for a bare UPDATE … RETURNING.
      `WITH r AS (UPDATE orders SET ${[...set, 'updated_at = now()'].join(', ')} WHERE id = $1 RETURNING updated_at)
       SELECT updated_at FROM r`,
      params,
    );
    if (!row) throw new Error(`order ${id} does not exist`);
    return row.updated_at;
  }

  /** The lines of the orders, in line order. */
  async linesOf(ctx: RequestContext, orderIds: readonly string[]): Promise<OrderLine[]> {
    if (orderIds.length === 0) return [];
    return this.connection
      .manager(ctx)
      .find(OrderLine, { where: { orderId: In([...orderIds]) }, order: { orderId: 'ASC', lineNo: 'ASC' } });
  }

  /** Σ of the bank transfers recorded for each order (absent: none). */
  async transferredTo(ctx: RequestContext, orderIds: readonly string[]): Promise<Map<string, number>> {
    if (orderIds.length === 0) return new Map();
    const rows = await this.connection.query<Array<{ order_id: string; total: string }>>(
      ctx,
      'SELECT order_id, SUM(amount)::text AS total FROM payments WHERE order_id = ANY($1::text[]) GROUP BY order_id',
      [orderIds],
    );
    return new Map(rows.map((row) => [row.order_id, Number(row.total)]));
  }

  /** The sealed purchaser identity of an order (registered cards' real-name data), if it has one. */
  async purchaserCiphertextOf(ctx: RequestContext, orderId: string): Promise<string | null> {
    const rows = await this.connection.query<Array<{ purchaser_ciphertext: string | null }>>(
      ctx,
      'SELECT purchaser_ciphertext FROM orders WHERE id = $1',
      [orderId],
    );
    return rows[0]?.purchaser_ciphertext ?? null;
  }

  /** Whether the order exists and is the enterprise's (issuance's reads). */
  async isOwnedBy(ctx: RequestContext, orderId: string, enterpriseId: string): Promise<boolean> {
    const rows = await this.connection.query<unknown[]>(
      ctx,
      'SELECT 1 FROM orders WHERE id = $1 AND enterprise_id = $2',
      [orderId, enterpriseId],
    );
    return rows.length > 0;
  }

  /** Each order's discount in basis points, by id (the cards' lifecycle). */
  async discountsBps(ctx: RequestContext, orderIds: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.connection.query<Array<{ id: string; discount_bps: number }>>(
      ctx,
      'SELECT id, discount_bps FROM orders WHERE id = ANY($1)',
      [orderIds],
    );
    return new Map(rows.map((order) => [order.id, order.discount_bps]));
  }

  /**
   * The order row as a lock for work on the order that lives in other modules' tables (card exports): locks the
   * order (of `enterpriseId` when given) until the context's transaction ends, serialising that work per order.
   * Its status, null when none.
   */
  async lock(ctx: RequestContext, orderId: string, enterpriseId?: string): Promise<{ status: OrderStatus } | null> {
    const order = await this.connection.transactionManager(ctx, 'OrdersRepository.lock').findOne(Order, {
      where: enterpriseId ? { id: orderId, enterpriseId } : { id: orderId },
      select: { id: true, status: true },
      lock: { mode: 'pessimistic_write' },
    });
    return order ? { status: order.status } : null;
  }

  /** One transfer, one booking: false when the bank reference is already booked (even by a racing request). */
  async insertPayment(ctx: RequestContext, payment: Omit<Payment, 'createdAt'>): Promise<boolean> {
    const inserted = await this.connection
      .manager(ctx)
      .createQueryBuilder()
      .insert()
      .into(Payment)
      .values(payment)
      .orIgnore()
      .returning(['id'])
      .updateEntity(false)
      .execute();
    return (inserted.raw as unknown[]).length > 0;
  }

  async findPayment(
    ctx: RequestContext,
    where: { id: string; enterpriseId?: string } | { bankReference: string },
  ): Promise<Payment | null> {
    return this.connection.manager(ctx).findOneBy(Payment, where);
  }

  /** Newest first, one page; `enterpriseId` undefined: every enterprise's. */
  async listPayments(
    ctx: RequestContext,
    filter: { enterpriseId?: string; orderId?: string },
    page: ListQueryDto,
  ): Promise<Page<Payment>> {
    const builder = this.connection.manager(ctx).createQueryBuilder(Payment, 'payment');
    if (filter.enterpriseId)
      builder.andWhere('payment.enterpriseId = :enterpriseId', { enterpriseId: filter.enterpriseId });
    if (filter.orderId) builder.andWhere('payment.orderId = :orderId', { orderId: filter.orderId });
    return paginate(builder, page, (payment) => payment);
  }
}
