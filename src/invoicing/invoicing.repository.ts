import { Injectable } from '@nestjs/common';
import { In, IsNull, LessThan, type FindOptionsWhere } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';
import type { Page } from '../common/pagination/pagination';
import { TransactionalConnection } from '../database/transactional-connection';
import type { InvoicingMode } from './invoice-policy';
import {
  Invoice,
  InvoiceNumberCounter,
  InvoiceOrder,
  InvoiceOrderReturn,
  InvoiceProfile,
  type InvoiceKind,
} from './invoice.entity';

export interface InvoiceFilter {
  enterpriseId?: string;
  kind?: InvoiceKind;
  orderId?: string;
}

/** What the rendering records once the files are stored. */
export interface RenderedFiles {
  pdfPath: string;
  pdfSha256: string;
  xmlPath: string;
  xmlSha256: string;
  jsonSha256: string;
}

/**
 * For reconciliation's matching statement (docs/architecture.md): a subquery of the invoice number covering each of
 * enterprise `$<enterpriseParam>`'s invoiced orders: `order_id`, `invoice_number` (its blue invoice; an order is
 * invoiced at most once).
 */
export function orderInvoiceNumbersSql(enterpriseParam: number): string {
  return `SELECT io.order_id, i.number AS invoice_number
            FROM invoice_orders io JOIN invoices i ON i.id = io.invoice_id
           WHERE io.enterprise_id = $${enterpriseParam}`;
}

/** invoices, invoice_orders, invoice_order_returns, invoice_profiles and invoice_number_counters. */
@Injectable()
export class InvoicingRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  async profileOf(ctx: RequestContext, enterpriseId: string): Promise<InvoiceProfile | null> {
    return this.connection.manager(ctx).findOneBy(InvoiceProfile, { enterpriseId });
  }

  async saveProfile(ctx: RequestContext, profile: Omit<InvoiceProfile, 'updatedAt'>): Promise<InvoiceProfile> {
    await this.connection.manager(ctx).upsert(InvoiceProfile, profile, ['enterpriseId']);
    return (await this.profileOf(ctx, profile.enterpriseId))!;
  }

  /** The enterprises that want invoices in `mode`. */
  async enterprisesInMode(ctx: RequestContext, mode: InvoicingMode): Promise<string[]> {
    const rows = await this.connection
      .manager(ctx)
      .find(InvoiceProfile, { where: { mode }, select: { enterpriseId: true }, order: { enterpriseId: 'ASC' } });
    return rows.map((row) => row.enterpriseId);
  }

  /**
   * The next sequence number of (issuer, year): the counter row is created or bumped and stays locked until the
   * issuing transaction ends, so concurrent issuers queue on it; a rollback gives the number back, so numbers have no
   * gaps, and a committed one is never handed out again.
   */
  async nextSequence(ctx: RequestContext, issuerCode: string, year: number): Promise<number> {
    this.connection.transactionManager(ctx, 'InvoicingRepository.nextSequence');
    const [row] = await this.connection.query<Array<{ last_sequence: number }>>(
      ctx,
      `INSERT INTO invoice_number_counters (issuer_code, year, last_sequence) VALUES ($1, $2, 1)
       ON CONFLICT (issuer_code, year) DO UPDATE SET last_sequence = invoice_number_counters.last_sequence + 1
       RETURNING last_sequence`,
      [issuerCode, year],
    );
    return Number(row.last_sequence);
  }

  async lastSequence(ctx: RequestContext, issuerCode: string, year: number): Promise<number> {
    const row = await this.connection.manager(ctx).findOneBy(InvoiceNumberCounter, { issuerCode, year });
    return row?.lastSequence ?? 0;
  }

  async insertInvoice(ctx: RequestContext, invoice: Omit<Invoice, 'createdAt'>): Promise<void> {
    await this.connection.manager(ctx).insert(Invoice, invoice);
  }

  /** Claims the orders for a blue invoice; the ids of those another invoice already covers (nothing is claimed then). */
  async claimOrders(ctx: RequestContext, rows: InvoiceOrder[]): Promise<string[]> {
    if (rows.length === 0) return [];
    const inserted = await this.connection.query<Array<{ order_id: string }>>(
      ctx,
      `INSERT INTO invoice_orders (order_id, invoice_id, enterprise_id, face_value, amount, credited)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
       ON CONFLICT (order_id) DO NOTHING RETURNING order_id`,
      [
        rows.map((row) => row.orderId),
        rows.map((row) => row.invoiceId),
        rows.map((row) => row.enterpriseId),
        rows.map((row) => row.faceValue),
        rows.map((row) => row.amount),
        rows.map((row) => row.credited),
      ],
    );
    const claimed = new Set(inserted.map((row) => row.order_id));
    return rows.map((row) => row.orderId).filter((id) => !claimed.has(id));
  }

  /** Which of the orders a blue invoice covers: order id → invoice id. */
  async invoicedOrders(ctx: RequestContext, orderIds: readonly string[]): Promise<Map<string, string>> {
    if (orderIds.length === 0) return new Map();
    const rows = await this.connection.manager(ctx).findBy(InvoiceOrder, { orderId: In([...orderIds]) });
    return new Map(rows.map((row) => [row.orderId, row.invoiceId]));
  }

  /** The cover of an order, locked for this transaction. */
  async lockCover(ctx: RequestContext, orderId: string): Promise<InvoiceOrder | null> {
    return this.connection
      .transactionManager(ctx, 'InvoicingRepository.lockCover')
      .findOne(InvoiceOrder, { where: { orderId }, lock: { mode: 'pessimistic_write' } });
  }

  /** The covers of an invoice's orders, locked. */
  async lockCoversOf(ctx: RequestContext, invoiceId: string): Promise<InvoiceOrder[]> {
    return this.connection
      .transactionManager(ctx, 'InvoicingRepository.lockCoversOf')
      .find(InvoiceOrder, { where: { invoiceId }, lock: { mode: 'pessimistic_write' }, order: { orderId: 'ASC' } });
  }

  async addCredited(ctx: RequestContext, orderId: string, amount: number): Promise<void> {
    await this.connection.manager(ctx).increment(InvoiceOrder, { orderId }, 'credited', amount);
  }

  /** Frees an invoice's orders (a void in error): they may be invoiced again. */
  async releaseOrders(ctx: RequestContext, invoiceId: string): Promise<void> {
    await this.connection.manager(ctx).delete(InvoiceOrder, { invoiceId });
  }

  async insertReturn(ctx: RequestContext, row: Omit<InvoiceOrderReturn, 'createdAt'>): Promise<void> {
    await this.connection.manager(ctx).insert(InvoiceOrderReturn, row);
  }

  /** Money that went back on each order so far (face value and amount paid), by order id. */
  async returnsOf(
    ctx: RequestContext,
    orderIds: readonly string[],
  ): Promise<Map<string, { faceValue: number; amount: number }>> {
    if (orderIds.length === 0) return new Map();
    const rows = await this.connection.query<Array<{ order_id: string; face_value: string; amount: string }>>(
      ctx,
      `SELECT order_id, sum(face_value) AS face_value, sum(amount) AS amount FROM invoice_order_returns
       WHERE order_id = ANY($1::text[]) GROUP BY order_id`,
      [[...orderIds]],
    );
    return new Map(
      rows.map((row) => [row.order_id, { faceValue: Number(row.face_value), amount: Number(row.amount) }]),
    );
  }

  async find(ctx: RequestContext, id: string, enterpriseId?: string): Promise<Invoice | null> {
    const where: FindOptionsWhere<Invoice> = enterpriseId ? { id, enterpriseId } : { id };
    return this.connection.manager(ctx).findOneBy(Invoice, where);
  }

  /** The red-letter invoices of each original, oldest first. */
  async creditsOf(ctx: RequestContext, originalIds: readonly string[]): Promise<Invoice[]> {
    if (originalIds.length === 0) return [];
    return this.connection
      .manager(ctx)
      .find(Invoice, { where: { originalInvoiceId: In([...originalIds]) }, order: { id: 'ASC' } });
  }

  async monthlyExists(ctx: RequestContext, enterpriseId: string, period: string): Promise<boolean> {
    return this.connection.manager(ctx).existsBy(Invoice, { enterpriseId, period });
  }

  /** Newest first by id; a cursor is the last id seen. */
  async list(
    ctx: RequestContext,
    filter: InvoiceFilter,
    page: { limit?: number; starting_after?: string },
  ): Promise<Page<Invoice>> {
    const limit = page.limit ?? 20;
    const query = this.connection.manager(ctx).createQueryBuilder(Invoice, 'invoice');
    if (filter.enterpriseId)
      query.andWhere('invoice.enterprise_id = :enterpriseId', { enterpriseId: filter.enterpriseId });
    if (filter.kind) query.andWhere('invoice.kind = :kind', { kind: filter.kind });
    if (filter.orderId) {
      query.andWhere(`invoice.lines @> :line::jsonb`, { line: JSON.stringify([{ orderId: filter.orderId }]) });
    }
    if (page.starting_after) query.andWhere('invoice.id < :cursor', { cursor: page.starting_after });
    const rows = await query
      .orderBy('invoice.id', 'DESC')
      .limit(limit + 1)
      .getMany();
    const hasMore = rows.length > limit;
    const data = rows.slice(0, limit);
    return { object: 'list', data, has_more: hasMore, next_cursor: hasMore ? data[data.length - 1].id : null };
  }

  async markRendered(ctx: RequestContext, id: string, files: RenderedFiles): Promise<void> {
    await this.connection
      .manager(ctx)
      .update(Invoice, { id }, { ...files, renderStatus: 'rendered', renderedAt: new Date() });
  }

  async markEmailed(ctx: RequestContext, id: string): Promise<boolean> {
    const result = await this.connection
      .manager(ctx)
      .update(Invoice, { id, emailedAt: IsNull() }, { emailedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }

  /** Invoices issued before `before` and not rendered yet (a lost enqueue), oldest first. */
  async unrendered(ctx: RequestContext, before: Date, limit: number): Promise<string[]> {
    const rows = await this.connection.manager(ctx).find(Invoice, {
      where: { renderStatus: 'pending', createdAt: LessThan(before) },
      select: { id: true },
      order: { id: 'ASC' },
      take: limit,
    });
    return rows.map((row) => row.id);
  }
}

/**
 * A statement line's invoice number: `<alias>.number` after this join on the line's `<column>` (an order id), the
 * blue invoice that covers the order (an order is invoiced at most once), none while it is not invoiced.
 */
export function orderInvoiceNumberJoinSql(column: string, alias: string): string {
  return `LEFT JOIN (SELECT io.order_id, i.number FROM invoice_orders io JOIN invoices i ON i.id = io.invoice_id) ${alias}
    ON ${alias}.order_id = ${column}`;
}
