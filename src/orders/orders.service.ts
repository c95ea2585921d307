import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { CatalogService } from '../catalog/catalog.service';
import type { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import { paginate, type Page } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { EnterprisesService } from '../enterprises/enterprises.service';
import { BatchDto } from '../issuance/dto/issuance.dto';
import { IssuanceBatch } from '../issuance/issuance.entity';
import { IssuanceService } from '../issuance/issuance.service';
import { ENTERPRISE_ACCOUNTS, LedgerAccount } from '../ledger/ledger.entity';
import { LedgerService } from '../ledger/ledger.service';
import { refundSplit } from '../ledger/refund-split';
import { EventsService } from '../webhooks/events.service';
import { CompliancePolicy } from '../catalog/compliance.policy';
import type { CreateOrderDto } from './dto/create-order.dto';
import { OrderDto, type ListOrdersQueryDto, type ReasonDto } from './dto/order.dto';
import { Order, OrderLine } from './order.entity';
import { assertTransition, type OrderStatus } from './order-state';
import { Payment } from './payment.entity';
import { priceOrder } from './pricing';
import { maskPurchaser, purchaserEnvelopeContext, serialisePurchaser } from './purchaser-identity';

/** What an order event says: ids and amounts, nothing personal. */
function orderEventData(order: Order): Record<string, unknown> {
  return {
    order_id: order.id,
    po_number: order.poNumber,
    status: order.status,
    face_total: order.faceTotal,
    payable: order.payable,
    currency: order.currency,
    payment_method: order.paymentMethod,
  };
}

/**
 * Bulk orders: placing them under the catalog, pricing and compliance rules,
 * approval by a second client, paying from prepaid funds, credit or bank
 * transfers, and cancelling with a refund. Every state change, its ledger entry
 * and its event commit in one transaction.
 */
@Injectable()
export class OrdersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionService,
    private readonly catalog: CatalogService,
    private readonly compliance: CompliancePolicy,
    private readonly enterprises: EnterprisesService,
    private readonly ledger: LedgerService,
    private readonly events: EventsService,
    private readonly audit: AuditService,
    private readonly cipher: DataCipher,
    private readonly issuance: IssuanceService,
  ) {}

  async create(ctx: RequestContext, dto: CreateOrderDto): Promise<OrderDto> {
    const enterpriseId = ctx.enterpriseId;
    return this.transactions.run(ctx, async (manager) => {
      const enterprise = await this.enterprises.findActive(manager, enterpriseId);
      const products = await this.catalog.findForOrder(
        manager,
        dto.lines.map((line) => line.product_id),
      );
      const lines = dto.lines.map((input, index) => {
        const product = products.get(input.product_id);
        const at = { line: index + 1 };
        if (!product) {
          throw ApiError.unprocessable(
            'product_not_found',
            `Line ${index + 1}: no product '${input.product_id}' on sale`,
            at,
          );
        }
        // The compliance limit first: a face value above it is refused as card_limit_exceeded, the code that says
        // why, even though no product offers it (products are held to the same limit).
        this.compliance.checkOrderLine({ cardType: product.cardType, faceValue: input.face_value }, index);
        if (!product.faceValues.includes(input.face_value)) {
          throw ApiError.unprocessable(
            'face_value_not_offered',
            `Line ${index + 1}: ${product.name} comes in ${product.faceValues.join(', ')} fen, not ${input.face_value}`,
            { ...at, face_values: product.faceValues },
          );
        }
        if (input.greeting !== undefined && !product.greetingAllowed) {
          throw ApiError.unprocessable(
            'greeting_not_allowed',
            `Line ${index + 1}: ${product.name} takes no greeting`,
            at,
          );
        }
        const design = input.design ?? product.designs[0];
        if (!product.designs.includes(design)) {
          throw ApiError.unprocessable(
            'design_not_offered',
            `Line ${index + 1}: ${product.name} comes in designs ${product.designs.join(', ')}`,
            { ...at, designs: product.designs },
          );
        }
        return { input, product, design };
      });
      const price = priceOrder(
        lines.map(({ input }) => ({ faceValue: input.face_value, quantity: input.quantity })),
        enterprise.discountBps,
      );
      this.compliance.checkOrder({
        lines: lines.map(({ input, product }) => ({
          cardType: product.cardType,
          faceValue: input.face_value,
          quantity: input.quantity,
        })),
        faceTotal: price.faceTotal,
        payable: price.payable,
        paymentMethod: dto.payment_method,
        purchaser: dto.purchaser,
      });

      const id = newId('order');
      const needsApproval = enterprise.approvalThreshold !== null && price.payable > enterprise.approvalThreshold;
      const status: OrderStatus = needsApproval ? 'pending_approval' : 'pending_payment';
      const now = new Date();
      // Built here and inserted as is: the response needs no read-back of what this transaction wrote.
      const order = manager.create(Order, {
        id,
        enterpriseId,
        poNumber: dto.po_number,
        status,
        currency: 'CNY',
        faceTotal: price.faceTotal,
        discountBps: enterprise.discountBps,
        discountTotal: price.discountTotal,
        payable: price.payable,
        paymentMethod: dto.payment_method,
        purchaserCiphertext: dto.purchaser
          ? this.cipher.encrypt(serialisePurchaser(dto.purchaser), purchaserEnvelopeContext(id))
          : null,
        purchaserMasked: dto.purchaser ? maskPurchaser(dto.purchaser) : null,
        createdByClientId: ctx.clientId!,
        decidedByClientId: null,
        decidedAt: null,
        rejectionReason: null,
        cancellationReason: null,
        paidAt: null,
        cancelledAt: null,
        createdAt: now,
        updatedAt: now,
      });
      // ON CONFLICT keeps the transaction usable (it may be the Idempotency-Key one) and makes a
      // concurrent insert of the same PO number wait for the first to commit.
      const inserted = await manager
        .createQueryBuilder()
        .insert()
        .into(Order)
        .values(order)
        .orIgnore()
        .returning(['id'])
        .updateEntity(false)
        .execute();
      if ((inserted.raw as unknown[]).length === 0) {
        const existing = await manager.findOneBy(Order, { enterpriseId, poNumber: dto.po_number });
        throw ApiError.conflict(
          'po_number_exists',
          `PO number '${dto.po_number}' is already used by order ${existing?.id}`,
          {
            existing_order_id: existing?.id ?? null,
          },
        );
      }
      const orderLines = lines.map(({ input, design }, index) =>
        manager.create(OrderLine, {
          id: newId('orderLine'),
          orderId: id,
          lineNo: index + 1,
          productId: input.product_id,
          faceValue: input.face_value,
          quantity: input.quantity,
          faceTotal: price.lines[index].faceTotal,
          greeting: input.greeting ?? null,
          design,
        }),
      );
      await manager.insert(OrderLine, orderLines);
      await this.events.record(ctx, { enterpriseId, type: 'order.created', data: orderEventData(order) });
      if (needsApproval) {
        await this.events.record(ctx, {
          enterpriseId,
          type: 'order.approval_required',
          data: { ...orderEventData(order), approval_threshold: enterprise.approvalThreshold },
        });
      }
      return OrderDto.from(order, orderLines, 0);
    });
  }

  async list(ctx: RequestContext, query: ListOrdersQueryDto): Promise<Page<OrderDto>> {
    const builder = this.dataSource
      .getRepository(Order)
      .createQueryBuilder('order')
      .where('order.enterpriseId = :enterpriseId', { enterpriseId: ctx.enterpriseId });
    if (query.status) builder.andWhere('order.status = :status', { status: query.status });
    if (query.po_number) builder.andWhere('order.poNumber = :poNumber', { poNumber: query.po_number });
    if (query.created_gte) builder.andWhere('order.createdAt >= :gte', { gte: query.created_gte });
    if (query.created_lt) builder.andWhere('order.createdAt < :lt', { lt: query.created_lt });
    const page = await paginate(builder, query, (order) => order);
    const dtos = await this.toDtos(this.dataSource.manager, page.data);
    return { ...page, data: dtos };
  }

  async get(ctx: RequestContext, id: string): Promise<OrderDto> {
    if (!isId('order', id)) throw ApiError.notFound('order', id);
    const manager = ctx.transaction?.manager ?? this.dataSource.manager;
    const order = await manager.findOneBy(Order, { id, enterpriseId: ctx.enterpriseId });
    if (!order) throw ApiError.notFound('order', id);
    return this.toDto(manager, order);
  }

  /** A different client with orders:approve lets the order go on to payment. */
  async approve(ctx: RequestContext, id: string): Promise<OrderDto> {
    return this.transactions.run(ctx, async (manager) => {
      const order = await this.lockOrder(manager, ctx.enterpriseId, id);
      this.assertNotCreator(ctx, order);
      assertTransition(id, order.status, 'pending_payment');
      Object.assign(order, { status: 'pending_payment', decidedByClientId: ctx.clientId, decidedAt: new Date() });
      await manager.save(order);
      await this.events.record(ctx, {
        enterpriseId: order.enterpriseId,
        type: 'order.approved',
        data: { ...orderEventData(order), approved_by_client_id: ctx.clientId },
      });
      // Transfers may have arrived while it waited.
      if (order.paymentMethod === 'bank_transfer') await this.settleTransfersIfCovered(manager, ctx, order);
      return this.toDto(manager, order);
    });
  }

  async reject(ctx: RequestContext, id: string, dto: ReasonDto): Promise<OrderDto> {
    return this.transactions.run(ctx, async (manager) => {
      const order = await this.lockOrder(manager, ctx.enterpriseId, id);
      this.assertNotCreator(ctx, order);
      assertTransition(id, order.status, 'rejected');
      Object.assign(order, {
        status: 'rejected',
        decidedByClientId: ctx.clientId,
        decidedAt: new Date(),
        rejectionReason: dto.reason ?? null,
      });
      await manager.save(order);
      await this.releaseDeposits(manager, ctx, order);
      await this.events.record(ctx, {
        enterpriseId: order.enterpriseId,
        type: 'order.rejected',
        data: { ...orderEventData(order), rejected_by_client_id: ctx.clientId, reason: dto.reason ?? null },
      });
      return this.toDto(manager, order);
    });
  }

  /** Pays a prepaid_balance or credit_line order; bank_transfer orders are paid by their transfers. */
  async pay(ctx: RequestContext, id: string): Promise<OrderDto> {
    return this.transactions.run(ctx, async (manager) => {
      const order = await this.lockOrder(manager, ctx.enterpriseId, id);
      // The state first: a cancelled, rejected or paid bank_transfer order awaits no transfer.
      assertTransition(id, order.status, 'paid');
      if (order.paymentMethod === 'bank_transfer') {
        throw ApiError.conflict(
          'awaiting_bank_transfer',
          'This order is paid by bank transfer: it becomes paid when its transfers cover the payable amount',
          { payable: order.payable, amount_transferred: await this.transferred(manager, order.id) },
        );
      }
      await this.charge(manager, ctx, order);
      return this.toDto(manager, order);
    });
  }

  /** Until issuance starts; a paid order is refunded to where its money came from. */
  async cancel(ctx: RequestContext, id: string, dto: ReasonDto): Promise<OrderDto> {
    return this.transactions.run(ctx, async (manager) => {
      const order = await this.lockOrder(manager, ctx.enterpriseId, id);
      assertTransition(id, order.status, 'cancelled');
      const wasPaid = order.status === 'paid';
      Object.assign(order, { status: 'cancelled', cancelledAt: new Date(), cancellationReason: dto.reason ?? null });
      await manager.save(order);
      if (wasPaid) {
        await this.issuance.cancelQueued(manager, order.id);
        await this.refundPayment(manager, ctx, order);
      } else await this.releaseDeposits(manager, ctx, order);
      await this.events.record(ctx, {
        enterpriseId: order.enterpriseId,
        type: 'order.cancelled',
        data: { ...orderEventData(order), refunded: wasPaid ? order.payable : 0, reason: dto.reason ?? null },
      });
      if (wasPaid) {
        await this.audit.record(ctx, {
          action: 'order.refunded',
          objectType: 'order',
          objectId: order.id,
          enterpriseId: order.enterpriseId,
          summary: { payable: order.payable, payment_method: order.paymentMethod, reason: dto.reason ?? null },
        });
      }
      return this.toDto(manager, order);
    });
  }

  /**
   * After a transfer for a bank_transfer order: once the transfers cover the
   * payable amount and the order awaits payment, pay it; the excess goes to the
   * prepaid balance. The order row must be locked by the caller.
   */
  async settleTransfersIfCovered(manager: EntityManager, ctx: RequestContext, order: Order): Promise<void> {
    if (order.status !== 'pending_payment') return;
    if ((await this.transferred(manager, order.id)) < order.payable) return;
    await this.charge(manager, ctx, order);
  }

  /** The order, locked for this transaction, if it belongs to the enterprise. */
  async lockOrder(manager: EntityManager, enterpriseId: string, id: string): Promise<Order> {
    if (!isId('order', id)) throw ApiError.notFound('order', id);
    const order = await manager.findOne(Order, { where: { id, enterpriseId }, lock: { mode: 'pessimistic_write' } });
    if (!order) throw ApiError.notFound('order', id);
    return order;
  }

  /** Books the payment: Dr funding source P, Dr sales_discount D, Cr unissued_orders F; the order becomes paid. */
  private async charge(manager: EntityManager, ctx: RequestContext, order: Order): Promise<void> {
    const { enterpriseId, faceTotal, discountTotal, payable } = order;
    await this.ledger.lockEnterpriseFunds(ctx, enterpriseId);
    const funding: Array<{ account: LedgerAccount; amount: number; enterpriseId?: string }> = [];
    if (order.paymentMethod === 'credit_line') {
      const enterprise = await this.enterprises.findActive(manager, enterpriseId);
      const used = await this.ledger.creditUsed(ctx, enterpriseId);
      if (used + payable > enterprise.creditLimit) {
        throw ApiError.unprocessable('credit_limit_exceeded', 'The credit line does not cover this order', {
          credit_limit: enterprise.creditLimit,
          credit_available: Math.max(0, enterprise.creditLimit - used),
          payable,
        });
      }
      funding.push({ account: LedgerAccount.Receivable, amount: payable, enterpriseId });
    } else if (order.paymentMethod === 'bank_transfer') {
      // The order's own transfers pay it; what they exceed it by becomes prepaid balance.
      const deposited = await this.transferred(manager, order.id);
      funding.push({ account: LedgerAccount.OrderDeposits, amount: deposited, enterpriseId });
      if (deposited > payable)
        funding.push({ account: LedgerAccount.Prepaid, amount: payable - deposited, enterpriseId });
    } else {
      const balance = await this.ledger.prepaidBalance(ctx, enterpriseId);
      if (balance < payable) {
        throw ApiError.unprocessable('insufficient_prepaid_balance', 'The prepaid balance does not cover this order', {
          prepaid_balance: balance,
          payable,
        });
      }
      funding.push({ account: LedgerAccount.Prepaid, amount: payable, enterpriseId });
    }
    await this.ledger.post(ctx, {
      kind: 'order_payment',
      memo: `Order ${order.poNumber} paid (${order.paymentMethod})`,
      enterpriseId,
      orderId: order.id,
      lines: [
        ...funding,
        ...(discountTotal > 0 ? [{ account: LedgerAccount.SalesDiscount, amount: discountTotal }] : []),
        { account: LedgerAccount.UnissuedOrders, amount: -faceTotal },
      ],
    });
    Object.assign(order, { status: 'paid', paidAt: new Date() });
    await manager.save(order);
    await this.events.record(ctx, { enterpriseId, type: 'order.paid', data: orderEventData(order) });
    // Minting is planned in the same transaction; its jobs start once this commits.
    await this.issuance.planForOrder(manager, ctx, order);
    await this.audit.record(ctx, {
      action: 'order.paid',
      objectType: 'order',
      objectId: order.id,
      enterpriseId,
      summary: { payable, face_total: faceTotal, payment_method: order.paymentMethod },
    });
  }

  /**
   * The reverse of the order's payment entry, with two exceptions that keep every
   * balance meaningful: money that came from the order's transfers comes back as
   * prepaid balance, and a credit-line payment gives back at most the credit still
   * used (what the enterprise has meanwhile repaid comes back as prepaid balance).
   */
  private async refundPayment(manager: EntityManager, ctx: RequestContext, order: Order): Promise<void> {
    const { enterpriseId } = order;
    await this.ledger.lockEnterpriseFunds(ctx, enterpriseId);
    const paidLines = await manager.query<Array<{ account: LedgerAccount; amount: string }>>(
      `SELECT l.account, l.amount FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
        WHERE e.order_id = $1 AND e.kind = 'order_payment'`,
      [order.id],
    );
    if (paidLines.length === 0) throw new Error(`order ${order.id} is paid but has no payment entry`);
    const refund = new Map<LedgerAccount, number>();
    const add = (account: LedgerAccount, amount: number) => refund.set(account, (refund.get(account) ?? 0) + amount);
    for (const line of paidLines) {
      const amount = -Number(line.amount);
      if (line.account === LedgerAccount.OrderDeposits) add(LedgerAccount.Prepaid, amount);
      else if (line.account === LedgerAccount.Receivable) {
        const split = refundSplit(-amount, -amount, await this.ledger.creditUsed(ctx, enterpriseId));
        if (split.toCredit > 0) add(LedgerAccount.Receivable, -split.toCredit);
        add(LedgerAccount.Prepaid, -split.toPrepaid);
      } else add(line.account, amount);
    }
    await this.ledger.post(ctx, {
      kind: 'order_refund',
      memo: `Order ${order.poNumber} cancelled after payment: refund`,
      enterpriseId,
      orderId: order.id,
      lines: [...refund]
        .filter(([, amount]) => amount !== 0)
        .map(([account, amount]) => ({
          account,
          amount,
          ...(ENTERPRISE_ACCOUNTS.has(account) ? { enterpriseId } : {}),
        })),
    });
  }

  /** Transfers received for an order that will not be paid go to the prepaid balance. */
  private async releaseDeposits(manager: EntityManager, ctx: RequestContext, order: Order): Promise<void> {
    if (order.paymentMethod !== 'bank_transfer') return;
    const held = await this.transferred(manager, order.id);
    if (held === 0) return;
    await this.ledger.lockEnterpriseFunds(ctx, order.enterpriseId);
    await this.ledger.post(ctx, {
      kind: 'order_deposit_release',
      memo: `Transfers for order ${order.poNumber} moved to the prepaid balance`,
      enterpriseId: order.enterpriseId,
      orderId: order.id,
      lines: [
        { account: LedgerAccount.OrderDeposits, amount: held, enterpriseId: order.enterpriseId },
        { account: LedgerAccount.Prepaid, amount: -held, enterpriseId: order.enterpriseId },
      ],
    });
    await this.audit.append(ctx, {
      action: 'order.deposits_released',
      objectType: 'order',
      objectId: order.id,
      enterpriseId: order.enterpriseId,
      summary: { amount: held, status: order.status, reason: order.rejectionReason ?? order.cancellationReason },
    });
  }

  private assertNotCreator(ctx: RequestContext, order: Order): void {
    if (order.createdByClientId === ctx.clientId) {
      throw ApiError.forbidden(
        'self_approval_not_allowed',
        'An order is approved or rejected by a different API client than the one that placed it',
      );
    }
  }

  /** Σ of the bank transfers recorded for the order. */
  private async transferred(manager: EntityManager, orderId: string): Promise<number> {
    const [row] = await manager.query<Array<{ total: string }>>(
      'SELECT COALESCE(SUM(amount), 0) AS total FROM payments WHERE order_id = $1',
      [orderId],
    );
    return Number(row.total);
  }

  private async toDto(manager: EntityManager, order: Order): Promise<OrderDto> {
    const [dto] = await this.toDtos(manager, [order]);
    return dto;
  }

  private async toDtos(manager: EntityManager, orders: Order[]): Promise<OrderDto[]> {
    if (orders.length === 0) return [];
    const ids = orders.map((order) => order.id);
    const lines = await manager.find(OrderLine, { where: { orderId: In(ids) }, order: { lineNo: 'ASC' } });
    const transfers = await manager
      .createQueryBuilder(Payment, 'payment')
      .select('payment.orderId', 'order_id')
      .addSelect('SUM(payment.amount)', 'total')
      .where('payment.orderId IN (:...ids)', { ids })
      .groupBy('payment.orderId')
      .getRawMany<{ order_id: string; total: string }>();
    const transferred = new Map(transfers.map((row) => [row.order_id, Number(row.total)]));
    const batches = await manager.find(IssuanceBatch, { where: { orderId: In(ids) }, order: { lineNo: 'ASC' } });
    return orders.map((order) =>
      OrderDto.from(
        order,
        lines.filter((line) => line.orderId === order.id),
        transferred.get(order.id) ?? 0,
        batches.filter((batch) => batch.orderId === order.id).map((batch) => BatchDto.from(batch)),
      ),
    );
  }
}
