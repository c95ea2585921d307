import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { CatalogService } from '../catalog/catalog.service';
import { CompliancePolicy } from '../catalog/compliance.policy';
import type { Product } from '../catalog/product.entity';
import type { RequestContext } from '../common/context/request-context';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { ApiError } from '../common/errors/api-error';
import { IdempotencyClaims } from '../idempotency/idempotency-claims';
import { IdempotencyInterceptor } from '../idempotency/idempotency.interceptor';
import { isId, newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { EnterprisesService } from '../enterprises/enterprises.service';
import { ENTERPRISE_ACCOUNTS, LedgerAccount } from '../ledger/ledger.entity';
import { LedgerService } from '../ledger/ledger.service';
import { refundSplit } from '../ledger/refund-split';
import { EventsService } from '../events/events.service';
import type { CreateOrderDto } from './dto/create-order.dto';
import { OrderDto, type ListOrdersQueryDto, type ReasonDto } from './dto/order.dto';
import { Order, OrderLine } from './order.entity';
import { OrderLifecycleHooks } from './order-lifecycle-hooks';
import { assertTransition, type OrderStatus } from './order-state';
import { OrderTermsCache, type OrderEnterpriseTerms } from './order-terms-cache';
import { OrdersRepository, type NewOrderWrite, type OrderChanges } from './orders.repository';
import type { NewEvent } from '../events/events.repository';
import { priceOrder } from '../catalog/pricing';
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

/** A new order, checked and priced, ready to be written in one statement. */
interface PlacedOrder {
  write: NewOrderWrite;
  dto: OrderDto;
}

/**
 * Bulk orders: placing them under the catalog, pricing and compliance rules,
 * approval by a second client, paying from prepaid funds, credit or bank
 * transfers, and cancelling with a refund. Every state change, its ledger entry
 * and its event commit in one transaction.
 */
@Injectable()
export class OrdersService {
  private readonly terms = new OrderTermsCache();

  constructor(
    private readonly orders: OrdersRepository,
    private readonly transactions: TransactionService,
    private readonly catalog: CatalogService,
    private readonly compliance: CompliancePolicy,
    private readonly enterprises: EnterprisesService,
    private readonly ledger: LedgerService,
    private readonly events: EventsService,
    private readonly audit: AuditService,
    private readonly cipher: DataCipher,
    private readonly hooks: OrderLifecycleHooks,
    private readonly claims: IdempotencyClaims,
  ) {}

  /**
   * One statement on the success path (docs/architecture.md, order creation): with the enterprise's and products'
   * terms known from an earlier order, the order is checked and priced here and written with its lines, events and
   * Idempotency-Key in one statement that also checks those terms still hold. Anything else (first order on these
   * terms, terms changed, a refusal, a PO number taken) takes the careful path: fresh reads in a transaction, the
   * same rules, the same statement, and the refusal explained.
   */
  async create(ctx: RequestContext, dto: CreateOrderDto): Promise<OrderDto> {
    const enterpriseId = ctx.enterpriseId;
    const productIds = dto.lines.map((line) => line.product_id);
    const known = ctx.transaction ? undefined : this.terms.get(enterpriseId, productIds);
    if (known) {
      const placed = this.tryPlace(ctx, dto, known.enterprise, known.products);
      if (placed) {
        const outcome = await this.write(ctx, placed);
        if (outcome === 'done') return placed.dto;
        // stale_terms or po_number_taken: explained by the careful path.
      }
    }
    return this.transactions.run(ctx, async () => {
      const enterprise = await this.enterprises.findActive(ctx, enterpriseId);
      const products = await this.catalog.findForOrder(ctx, productIds);
      this.terms.remember(enterprise, products.values());
      const placed = this.place(ctx, dto, enterprise, products);
      const outcome = await this.write(ctx, placed);
      if (outcome === 'done') return placed.dto;
      if (outcome === 'po_number_taken') {
        const existing = await this.orders.orderIdByPoNumber(ctx, enterpriseId, dto.po_number);
        throw ApiError.conflict(
          'po_number_exists',
          `PO number '${dto.po_number}' is already used by order ${existing}`,
          {
            existing_order_id: existing,
          },
        );
      }
      // The terms were read and locked in this transaction: they cannot have changed.
      throw new Error(`order ${placed.write.order.id}: terms changed under their own lock`);
    });
  }

  /**
   * The statement, with the request's Idempotency-Key when it holds one: 409 while another request holds the key;
   * 'done' when the order was placed or the key's earlier response is the answer (the interceptor replays it).
   */
  private async write(ctx: RequestContext, placed: PlacedOrder): Promise<'done' | 'stale_terms' | 'po_number_taken'> {
    const claim = this.claims.pending(ctx);
    const result = await this.orders.insertOrder(ctx, {
      ...placed.write,
      ...(claim ? { idempotency: { claim, response: placed.dto } } : {}),
    });
    switch (result.outcome) {
      case 'key_in_use':
        throw IdempotencyInterceptor.inFlight();
      case 'created':
        this.claims.markStored(ctx);
        return 'done';
      case 'replay':
        this.claims.markReplay(ctx, result.earlier);
        return 'done';
      default:
        return result.outcome;
    }
  }

  /** place() on remembered terms; undefined when they refuse the order (the careful path then explains why). */
  private tryPlace(
    ctx: RequestContext,
    dto: CreateOrderDto,
    enterprise: OrderEnterpriseTerms,
    products: ReadonlyMap<string, Product>,
  ): PlacedOrder | undefined {
    try {
      return this.place(ctx, dto, enterprise, products);
    } catch (error) {
      if (error instanceof ApiError) return undefined;
      throw error;
    }
  }

  /** The catalog, compliance and pricing rules on the given terms; the order, its lines, events and response. */
  private place(
    ctx: RequestContext,
    dto: CreateOrderDto,
    enterprise: OrderEnterpriseTerms,
    products: ReadonlyMap<string, Product>,
  ): PlacedOrder {
    const enterpriseId = enterprise.id;
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
    // Built here and inserted as is: the response needs no read-back of what the statement wrote.
    const order: Order = {
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
    };
    const orderLines: OrderLine[] = lines.map(({ input, design }, index) => ({
      id: newId('orderLine'),
      orderId: id,
      lineNo: index + 1,
      productId: input.product_id,
      faceValue: input.face_value,
      quantity: input.quantity,
      faceTotal: price.lines[index].faceTotal,
      greeting: input.greeting ?? null,
      design,
    }));
    const events: NewEvent[] = [{ enterpriseId, type: 'order.created', data: orderEventData(order) }];
    if (needsApproval) {
      events.push({
        enterpriseId,
        type: 'order.approval_required',
        data: { ...orderEventData(order), approval_threshold: enterprise.approvalThreshold },
      });
    }
    const productTerms = [...new Set(dto.lines.map((line) => line.product_id))].map((productId) => {
      const { id: termsId, cardType, faceValues, designs, greetingAllowed } = products.get(productId)!;
      return { id: termsId, cardType, faceValues, designs, greetingAllowed };
    });
    return {
      write: {
        order,
        lines: orderLines,
        events,
        enterpriseTerms: {
          id: enterpriseId,
          discountBps: enterprise.discountBps,
          approvalThreshold: enterprise.approvalThreshold,
        },
        productTerms,
      },
      dto: OrderDto.from(order, orderLines, 0),
    };
  }

  async list(ctx: RequestContext, query: ListOrdersQueryDto): Promise<Page<OrderDto>> {
    const page = await this.orders.listOrders(
      ctx,
      {
        enterpriseId: ctx.enterpriseId,
        status: query.status,
        poNumber: query.po_number,
        createdGte: query.created_gte,
        createdLt: query.created_lt,
      },
      query,
    );
    const dtos = await this.toDtos(ctx, page.data);
    return { ...page, data: dtos };
  }

  async get(ctx: RequestContext, id: string): Promise<OrderDto> {
    if (!isId('order', id)) throw ApiError.notFound('order', id);
    const order = await this.orders.findOrder(ctx, id, { enterpriseId: ctx.enterpriseId });
    if (!order) throw ApiError.notFound('order', id);
    return this.toDto(ctx, order);
  }

  /** A different client with orders:approve lets the order go on to payment. */
  async approve(ctx: RequestContext, id: string): Promise<OrderDto> {
    return this.transactions.run(ctx, async () => {
      const order = await this.lockOrder(ctx, ctx.enterpriseId, id);
      this.assertNotCreator(ctx, order);
      assertTransition(id, order.status, 'pending_payment');
      await this.change(ctx, order, {
        status: 'pending_payment',
        decidedByClientId: ctx.clientId,
        decidedAt: new Date(),
      });
      await this.events.record(ctx, {
        enterpriseId: order.enterpriseId,
        type: 'order.approved',
        data: { ...orderEventData(order), approved_by_client_id: ctx.clientId },
      });
      // Transfers may have arrived while it waited.
      if (order.paymentMethod === 'bank_transfer') await this.settleTransfersIfCovered(ctx, order);
      return this.toDto(ctx, order);
    });
  }

  async reject(ctx: RequestContext, id: string, dto: ReasonDto): Promise<OrderDto> {
    return this.transactions.run(ctx, async () => {
      const order = await this.lockOrder(ctx, ctx.enterpriseId, id);
      this.assertNotCreator(ctx, order);
      assertTransition(id, order.status, 'rejected');
      await this.change(ctx, order, {
        status: 'rejected',
        decidedByClientId: ctx.clientId,
        decidedAt: new Date(),
        rejectionReason: dto.reason ?? null,
      });
      await this.releaseDeposits(ctx, order);
      await this.events.record(ctx, {
        enterpriseId: order.enterpriseId,
        type: 'order.rejected',
        data: { ...orderEventData(order), rejected_by_client_id: ctx.clientId, reason: dto.reason ?? null },
      });
      return this.toDto(ctx, order);
    });
  }

  /** Pays a prepaid_balance or credit_line order; bank_transfer orders are paid by their transfers. */
  async pay(ctx: RequestContext, id: string): Promise<OrderDto> {
    return this.transactions.run(ctx, async () => {
      const order = await this.lockOrder(ctx, ctx.enterpriseId, id);
      // The state first: a cancelled, rejected or paid bank_transfer order awaits no transfer.
      assertTransition(id, order.status, 'paid');
      if (order.paymentMethod === 'bank_transfer') {
        throw ApiError.conflict(
          'awaiting_bank_transfer',
          'This order is paid by bank transfer: it becomes paid when its transfers cover the payable amount',
          { payable: order.payable, amount_transferred: await this.transferred(ctx, order.id) },
        );
      }
      await this.charge(ctx, order);
      return this.toDto(ctx, order);
    });
  }

  /** Until issuance starts; a paid order is refunded to where its money came from. */
  async cancel(ctx: RequestContext, id: string, dto: ReasonDto): Promise<OrderDto> {
    return this.transactions.run(ctx, async () => {
      const order = await this.lockOrder(ctx, ctx.enterpriseId, id);
      assertTransition(id, order.status, 'cancelled');
      const wasPaid = order.status === 'paid';
      await this.change(ctx, order, {
        status: 'cancelled',
        cancelledAt: new Date(),
        cancellationReason: dto.reason ?? null,
      });
      if (wasPaid) {
        await this.hooks.paidOrderCancelled(ctx, order);
        await this.refundPayment(ctx, order);
      } else await this.releaseDeposits(ctx, order);
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
      return this.toDto(ctx, order);
    });
  }

  /**
   * After a transfer for a bank_transfer order: once the transfers cover the
   * payable amount and the order awaits payment, pay it; the excess goes to the
   * prepaid balance. The order row must be locked by the caller.
   */
  async settleTransfersIfCovered(ctx: RequestContext, order: Order): Promise<void> {
    if (order.status !== 'pending_payment') return;
    if ((await this.transferred(ctx, order.id)) < order.payable) return;
    await this.charge(ctx, order);
  }

  /** The order, locked for this transaction, if it belongs to the enterprise. */
  async lockOrder(ctx: RequestContext, enterpriseId: string, id: string): Promise<Order> {
    if (!isId('order', id)) throw ApiError.notFound('order', id);
    const order = await this.orders.findOrder(ctx, id, { enterpriseId, lock: true });
    if (!order) throw ApiError.notFound('order', id);
    return order;
  }

  /**
   * For issuance, in its transaction, as a chunk starts: the order (any enterprise's) locked; a paid order becomes
   * issuing. false when it is neither paid nor issuing (cancelled meanwhile: nothing is minted).
   */
  async startIssuing(ctx: RequestContext, orderId: string): Promise<boolean> {
    const order = await this.orders.findOrder(ctx, orderId, { lock: true });
    if (!order || (order.status !== 'paid' && order.status !== 'issuing')) return false;
    if (order.status === 'paid') {
      assertTransition(orderId, order.status, 'issuing');
      await this.change(ctx, order, { status: 'issuing' });
    }
    return true;
  }

  /**
   * For issuance, in its transaction, as a batch completes: the order locked FIRST (batches of one order finishing
   * at once then see each other's completion), then `allIssued` asked; when it says so the order becomes issued.
   * Whether it did.
   */
  async finishIssuing(ctx: RequestContext, orderId: string, allIssued: () => Promise<boolean>): Promise<boolean> {
    const order = await this.orders.findOrder(ctx, orderId, { lock: true });
    if (!order) throw new Error(`order ${orderId} of an issuance batch does not exist`);
    if (!(await allIssued())) return false;
    assertTransition(orderId, order.status, 'issued');
    await this.change(ctx, order, { status: 'issued' });
    return true;
  }

  /**
   * An issued order whose cards have all been handed over becomes completed (README, "When is an order completed"):
   * the order locked FIRST (two deliveries finishing at once then see each other's), then, unless `exported` (a ready
   * card export holds every card of the order), the registered handover readers asked (OrderLifecycleHooks:
   * distribution registers one; with none nothing completes by handover). Records order.completed and its audit
   * record in the caller's transaction. Whether it completed.
   */
  async completeIfHandedOver(ctx: RequestContext, orderId: string, { exported = false } = {}): Promise<boolean> {
    return this.transactions.run(ctx, async () => {
      const order = await this.orders.findOrder(ctx, orderId, { lock: true });
      if (!order || order.status !== 'issued') return false;
      if (!exported && !(await this.hooks.handedOver(ctx, orderId))) return false;
      assertTransition(orderId, order.status, 'completed');
      await this.change(ctx, order, { status: 'completed' });
      await this.events.record(ctx, {
        enterpriseId: order.enterpriseId,
        type: 'order.completed',
        data: { ...orderEventData(order), handed_over_by: exported ? 'export' : 'distribution' },
      });
      await this.audit.append(ctx, {
        action: 'order.completed',
        objectType: 'order',
        objectId: orderId,
        enterpriseId: order.enterpriseId,
        summary: { handed_over_by: exported ? 'export' : 'distribution' },
      });
      return true;
    });
  }

  /** The lines of an order, in line order (issuance plans one batch per line). */
  async linesOf(ctx: RequestContext, orderId: string): Promise<OrderLine[]> {
    return this.orders.linesOf(ctx, [orderId]);
  }

  /** Writes the changes and applies them (and the new updated_at) to the order in hand. */
  private async change(ctx: RequestContext, order: Order, changes: OrderChanges): Promise<void> {
    const updatedAt = await this.orders.updateOrder(ctx, order.id, changes);
    Object.assign(order, changes, { updatedAt });
  }

  /** Books the payment: Dr funding source P, Dr sales_discount D, Cr unissued_orders F; the order becomes paid. */
  private async charge(ctx: RequestContext, order: Order): Promise<void> {
    const { enterpriseId, faceTotal, discountTotal, payable } = order;
    await this.ledger.lockEnterpriseFunds(ctx, enterpriseId);
    const funding: Array<{ account: LedgerAccount; amount: number; enterpriseId?: string }> = [];
    if (order.paymentMethod === 'credit_line') {
      const enterprise = await this.enterprises.findActive(ctx, enterpriseId);
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
      const deposited = await this.transferred(ctx, order.id);
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
    await this.change(ctx, order, { status: 'paid', paidAt: new Date() });
    await this.events.record(ctx, { enterpriseId, type: 'order.paid', data: orderEventData(order) });
    // Minting is planned in the same transaction (issuance's hook); its jobs start once this commits.
    await this.hooks.paid(ctx, order);
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
  private async refundPayment(ctx: RequestContext, order: Order): Promise<void> {
    const { enterpriseId } = order;
    await this.ledger.lockEnterpriseFunds(ctx, enterpriseId);
    const payment = await this.ledger.listEntries(ctx, { order_id: order.id, kind: 'order_payment', limit: 1 });
    const paidLines = payment.data[0]?.lines ?? [];
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
  private async releaseDeposits(ctx: RequestContext, order: Order): Promise<void> {
    if (order.paymentMethod !== 'bank_transfer') return;
    const held = await this.transferred(ctx, order.id);
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
  private async transferred(ctx: RequestContext, orderId: string): Promise<number> {
    return (await this.orders.transferredTo(ctx, [orderId])).get(orderId) ?? 0;
  }

  private async toDto(ctx: RequestContext, order: Order): Promise<OrderDto> {
    const [dto] = await this.toDtos(ctx, [order]);
    return dto;
  }

  private async toDtos(ctx: RequestContext, orders: Order[]): Promise<OrderDto[]> {
    if (orders.length === 0) return [];
    const ids = orders.map((order) => order.id);
    const lines = await this.orders.linesOf(ctx, ids);
    const transferred = await this.orders.transferredTo(ctx, ids);
    const issuance = await this.hooks.issuanceOf(ctx, ids);
    return orders.map((order) =>
      OrderDto.from(
        order,
        lines.filter((line) => line.orderId === order.id),
        transferred.get(order.id) ?? 0,
        issuance.get(order.id) ?? [],
      ),
    );
  }
}
