import type { Readable } from 'node:stream';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { CardLifecycleHooks } from '../cards/card-lifecycle-hooks';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { EventsService } from '../events/events.service';
import { OrderLifecycleHooks } from '../orders/order-lifecycle-hooks';
import type { Order } from '../orders/order.entity';
import type { OrderStatus } from '../orders/order-state';
import { OrdersRepository } from '../orders/orders.repository';
import { OnJob } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { FileStorage } from '../storage/file-storage';
import { AdminListInvoicesQueryDto, CreateInvoiceDto, InvoiceDto, ListInvoicesQueryDto } from './dto/invoice.dto';
import { InvoiceProfileDto, UpdateInvoiceProfileDto } from './dto/invoice-profile.dto';
import {
  assertOrdinaryInvoice,
  checkedTaxpayerId,
  chineseCapitalAmount,
  creditableAmount,
  invoiceLine,
  invoiceNumber,
  previousShanghaiMonth,
  proportionalFace,
  shanghaiMonthRange,
  shanghaiYearMonth,
  totalsOf,
  type InvoiceLine,
  type InvoiceSettings,
} from './invoice-policy';
import type { Invoice, InvoiceBuyer, InvoiceProfile, InvoiceReason, InvoiceSeller } from './invoice.entity';
import { InvoicingRepository } from './invoicing.repository';

/** Orders that are paid and keep their money: the ones an invoice may cover. */
export const INVOICEABLE_STATUSES: readonly OrderStatus[] = ['paid', 'issuing', 'issued', 'completed'];
const MONTHLY_SCHEDULER = 'monthly-invoices';
const SWEEP_SCHEDULER = 'invoice-render-sweep';
/** The monthly run: 02:00 on the 1st, Asia/Shanghai, for the month before. */
export const MONTHLY_CRON = { cron: '0 2 1 * *', tz: 'Asia/Shanghai' } as const;

/** The seller and issuer settings of AppConfig (INVOICE_*), as the policy takes them. */
export function invoiceSettingsOf(config: AppConfig): InvoiceSettings {
  return {
    sellerName: config.INVOICE_SELLER_NAME,
    sellerTaxId: config.INVOICE_SELLER_TAX_ID,
    sellerAddress: config.INVOICE_SELLER_ADDRESS,
    sellerPhone: config.INVOICE_SELLER_PHONE,
    sellerBank: config.INVOICE_SELLER_BANK,
    sellerAccount: config.INVOICE_SELLER_ACCOUNT,
    issuerCode: config.INVOICE_ISSUER_CODE,
    taxClassificationCode: config.INVOICE_TAX_CLASSIFICATION_CODE,
    drawer: config.INVOICE_DRAWER,
  };
}

/** A stored invoice document, opened for sending. */
export interface InvoiceDocumentFile {
  stream: Readable;
  sizeBytes: number;
  /** The digest the invoice records (X-Content-SHA256). */
  sha256: string;
  fileName: string;
}

/** Money that went back on an order, from whichever module moved it. */
interface MoneyReturned {
  reason: Extract<InvoiceReason, 'order_cancelled' | 'cards_voided' | 'card_refunded'>;
  enterpriseId: string;
  orderId: string;
  faceValue: number;
  amount: number;
}

/**
 * Invoices (docs/invoicing.md): the enterprise's profile, issuing per order (on order.paid, through orders'
 * OrderLifecycleHooks), monthly (a BullMQ job scheduler) or on request, red-letter invoices when money goes back on
 * an invoiced order (orders' and cards' hooks, in the transaction that moves the money), and the operator's void of an
 * invoice issued in error. Invoice, numbering, event and audit record commit in one transaction; the documents are
 * rendered by a worker afterwards (InvoiceRenderJob).
 *
 * Hooks rather than consuming order.paid / card.voided events: the red-letter invoice then exists exactly when the
 * refund does (same transaction, no relay lag, no window in which the invoice shows money that went back), and orders
 * and cards still import nothing of invoicing.
 */
@Injectable()
export class InvoicingService implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(InvoicingService.name);
  private readonly settings: InvoiceSettings;

  constructor(
    private readonly repository: InvoicingRepository,
    private readonly transactions: TransactionService,
    private readonly orders: OrdersRepository,
    private readonly orderHooks: OrderLifecycleHooks,
    private readonly cardHooks: CardLifecycleHooks,
    private readonly events: EventsService,
    private readonly audit: AuditService,
    private readonly queues: QueueService,
    private readonly files: FileStorage,
    config: AppConfig,
  ) {
    this.settings = invoiceSettingsOf(config);
  }

  onModuleInit(): void {
    this.orderHooks.onPaid((ctx, order) => this.onOrderPaid(ctx, order));
    this.orderHooks.onPaidOrderCancelled((ctx, order) =>
      this.moneyReturned(ctx, {
        reason: 'order_cancelled',
        enterpriseId: order.enterpriseId,
        orderId: order.id,
        faceValue: order.faceTotal,
        amount: order.payable,
      }),
    );
    this.cardHooks.onMoneyReturned((ctx, returned) =>
      this.moneyReturned(ctx, {
        reason: returned.kind === 'void' ? 'cards_voided' : 'card_refunded',
        enterpriseId: returned.enterpriseId,
        orderId: returned.orderId,
        faceValue: returned.faceValue,
        amount: returned.amount,
      }),
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.queues.isWorker) return;
    await this.queues.upsertScheduler(MONTHLY_SCHEDULER, JobName.IssueMonthlyInvoices, {}, MONTHLY_CRON);
    await this.queues.upsertScheduler(SWEEP_SCHEDULER, JobName.SweepInvoiceRendering, {}, { everyMs: 300_000 });
  }

  // ---- profile

  async getProfile(ctx: RequestContext): Promise<InvoiceProfileDto> {
    const profile = await this.repository.profileOf(ctx, ctx.enterpriseId);
    if (!profile) throw ApiError.notFound('invoice profile', ctx.enterpriseId);
    return InvoiceProfileDto.from(profile);
  }

  async putProfile(ctx: RequestContext, dto: UpdateInvoiceProfileDto): Promise<InvoiceProfileDto> {
    assertOrdinaryInvoice(dto.invoice_type);
    const taxpayerId = checkedTaxpayerId(dto.taxpayer_id);
    return this.transactions.run(ctx, async () => {
      const profile = await this.repository.saveProfile(ctx, {
        enterpriseId: ctx.enterpriseId,
        title: dto.title.trim(),
        taxpayerId,
        address: dto.address ?? null,
        phone: dto.phone ?? null,
        bank: dto.bank ?? null,
        account: dto.account ?? null,
        emails: [...new Set(dto.emails.map((email) => email.trim()))],
        mode: dto.mode,
      });
      await this.audit.append(ctx, {
        action: 'invoice_profile.updated',
        objectType: 'invoice_profile',
        objectId: ctx.enterpriseId,
        enterpriseId: ctx.enterpriseId,
        after: profile,
        summary: { mode: profile.mode, emails: profile.emails.length },
      });
      return InvoiceProfileDto.from(profile);
    });
  }

  // ---- issuing

  /** on_request: one invoice for the listed paid orders. */
  async create(ctx: RequestContext, dto: CreateInvoiceDto): Promise<InvoiceDto> {
    assertOrdinaryInvoice(dto.invoice_type);
    const enterpriseId = ctx.enterpriseId;
    const orderIds = [...new Set(dto.order_ids)].sort();
    return this.transactions.run(ctx, async () => {
      const profile = await this.repository.profileOf(ctx, enterpriseId);
      if (!profile) {
        throw ApiError.unprocessable(
          'invoice_profile_required',
          'Set the invoice profile (PUT /v1/invoice-profile) before requesting invoices',
        );
      }
      // Locked in id order: a cancel or void of the same order waits for this invoice (and credits it), or wins first.
      const orders: Order[] = [];
      for (const id of orderIds) {
        const order = await this.orders.findOrder(ctx, id, { enterpriseId, lock: true });
        if (!order) throw ApiError.notFound('order', id);
        orders.push(order);
      }
      const unpaid = orders.filter((order) => !INVOICEABLE_STATUSES.includes(order.status));
      if (unpaid.length > 0) {
        throw ApiError.unprocessable('order_not_paid', 'Only paid orders can be invoiced', {
          order_ids: unpaid.map((order) => order.id),
        });
      }
      const invoiced = await this.repository.invoicedOrders(ctx, orderIds);
      if (invoiced.size > 0) throw this.alreadyInvoiced(invoiced);
      const lines = await this.linesFor(ctx, orders);
      if (lines.length < orders.length) {
        const covered = new Set(lines.map((line) => line.orderId));
        throw ApiError.unprocessable('order_not_paid', 'Every payment of these orders went back: nothing to invoice', {
          order_ids: orders.filter((order) => !covered.has(order.id)).map((order) => order.id),
        });
      }
      const invoice = await this.issueBlue(ctx, profile, lines, 'on_request', null);
      return InvoiceDto.from(invoice, []);
    });
  }

  /** per_order: in the payment's transaction (OrderLifecycleHooks.onPaid). */
  private async onOrderPaid(ctx: RequestContext, order: Readonly<Order>): Promise<void> {
    const profile = await this.repository.profileOf(ctx, order.enterpriseId);
    if (profile?.mode !== 'per_order') return;
    if ((await this.repository.invoicedOrders(ctx, [order.id])).size > 0) return;
    const lines = await this.linesFor(ctx, [order]);
    if (lines.length > 0) await this.issueBlue(ctx, profile, lines, 'per_order', null);
  }

  @OnJob(JobName.IssueMonthlyInvoices)
  async issueMonthlyJob(payload: { period?: string }): Promise<{ period: string; issued: number }> {
    const period = payload.period ?? previousShanghaiMonth(new Date());
    return { period, issued: await this.issueMonthly(RequestContext.system(), period) };
  }

  /**
   * monthly: one invoice per enterprise in monthly mode for its orders paid in `period` (YYYY-MM, Asia/Shanghai) and
   * not invoiced yet. Idempotent per enterprise and month: a second run finds the month's invoice and issues nothing
   * (the unique (enterprise, period) index settles two runs at once). The number issued.
   */
  async issueMonthly(ctx: RequestContext, period: string): Promise<number> {
    const { from, to } = shanghaiMonthRange(period);
    let issued = 0;
    for (const enterpriseId of await this.repository.enterprisesInMode(ctx, 'monthly')) {
      const run = RequestContext.system();
      const done = await this.transactions.run(run, async () => {
        const profile = await this.repository.profileOf(run, enterpriseId);
        if (profile?.mode !== 'monthly' || (await this.repository.monthlyExists(run, enterpriseId, period)))
          return false;
        const candidates = await this.orders.paidBetween(run, enterpriseId, from, to, INVOICEABLE_STATUSES);
        const invoiced = await this.repository.invoicedOrders(run, candidates);
        const orders: Order[] = [];
        for (const id of candidates.filter((candidate) => !invoiced.has(candidate)).sort()) {
          const order = await this.orders.findOrder(run, id, { enterpriseId, lock: true });
          if (order && INVOICEABLE_STATUSES.includes(order.status)) orders.push(order);
        }
        const lines = await this.linesFor(run, orders);
        if (lines.length === 0) return false;
        await this.issueBlue(run, profile, lines, 'monthly', period);
        return true;
      });
      if (done) issued++;
    }
    if (issued > 0) this.logger.log({ msg: 'monthly invoices issued', period, issued });
    return issued;
  }

  /**
   * Money went back on an order (in that transaction): recorded, and when a blue invoice covers the order, a
   * red-letter invoice credits it for that amount (at most what is left on the invoice for the order). Before the
   * order is invoiced, the record makes the later invoice smaller instead.
   */
  private async moneyReturned(ctx: RequestContext, returned: MoneyReturned): Promise<void> {
    if (returned.amount <= 0) return;
    const cover = await this.repository.lockCover(ctx, returned.orderId);
    let creditInvoiceId: string | null = null;
    if (cover) {
      const credit = creditableAmount(returned.amount, cover.amount, cover.credited);
      const original = credit > 0 ? await this.repository.find(ctx, cover.invoiceId) : null;
      if (original) {
        const poNumber = original.lines.find((line) => line.orderId === returned.orderId)?.poNumber ?? '';
        const face = proportionalFace(credit, returned.amount, returned.faceValue);
        const line = invoiceLine(
          this.settings,
          { orderId: returned.orderId, poNumber, faceValue: face, amount: credit },
          -1,
        );
        const red = await this.issueRed(ctx, original, [line], returned.reason, null);
        await this.repository.addCredited(ctx, returned.orderId, credit);
        creditInvoiceId = red.id;
      }
    }
    await this.repository.insertReturn(ctx, {
      id: newId('invoiceReturn'),
      orderId: returned.orderId,
      enterpriseId: returned.enterpriseId,
      reason: returned.reason,
      faceValue: returned.faceValue,
      amount: returned.amount,
      creditInvoiceId,
    });
  }

  /** Operator: an invoice issued in error gets a red-letter counterpart for what is left of it; its orders are freed. */
  async voidInError(ctx: RequestContext, id: string, reason: string): Promise<InvoiceDto> {
    return this.transactions.run(ctx, async () => {
      const invoice = isId('invoice', id) ? await this.repository.find(ctx, id) : null;
      if (!invoice) throw ApiError.notFound('invoice', id);
      if (invoice.kind !== 'blue') {
        throw ApiError.conflict('invalid_state', 'A red-letter invoice cannot be voided', { invoice_id: id });
      }
      const covers = await this.repository.lockCoversOf(ctx, id);
      const lines = covers
        .filter((cover) => cover.amount > cover.credited)
        .map((cover) => {
          const left = cover.amount - cover.credited;
          const poNumber = invoice.lines.find((line) => line.orderId === cover.orderId)?.poNumber ?? '';
          const face = proportionalFace(left, cover.amount, cover.faceValue);
          return invoiceLine(this.settings, { orderId: cover.orderId, poNumber, faceValue: face, amount: left }, -1);
        });
      if (lines.length === 0) {
        throw ApiError.conflict('invoice_already_credited', 'Nothing is left of this invoice to void', {
          invoice_id: id,
        });
      }
      const red = await this.issueRed(ctx, invoice, lines, 'issued_in_error', reason);
      await this.repository.releaseOrders(ctx, id);
      await this.audit.append(ctx, {
        action: 'invoice.voided',
        objectType: 'invoice',
        objectId: id,
        enterpriseId: invoice.enterpriseId,
        summary: { number: invoice.number, credit_invoice_id: red.id, credit_number: red.number, reason },
      });
      return InvoiceDto.from(invoice, await this.repository.creditsOf(ctx, [id]));
    });
  }

  // ---- reads

  async list(ctx: RequestContext, query: ListInvoicesQueryDto): Promise<Page<InvoiceDto>> {
    return this.listFiltered(ctx, { enterpriseId: ctx.enterpriseId, kind: query.kind, orderId: query.order_id }, query);
  }

  async adminList(ctx: RequestContext, query: AdminListInvoicesQueryDto): Promise<Page<InvoiceDto>> {
    return this.listFiltered(
      ctx,
      { enterpriseId: query.enterprise_id, kind: query.kind, orderId: query.order_id },
      query,
    );
  }

  async get(ctx: RequestContext, id: string): Promise<InvoiceDto> {
    const invoice = await this.findVisible(ctx, id);
    return InvoiceDto.from(invoice, await this.repository.creditsOf(ctx, [invoice.id]));
  }

  /** The caller's invoice (any invoice for the operator); another tenant's is a 404. */
  async findVisible(ctx: RequestContext, id: string): Promise<Invoice> {
    const invoice = isId('invoice', id)
      ? await this.repository.find(ctx, id, ctx.isOperator ? undefined : ctx.enterpriseId)
      : null;
    if (!invoice) throw ApiError.notFound('invoice', id);
    return invoice;
  }

  /** The stored PDF or XML of a visible invoice; 409 invoice_not_rendered while the worker has not rendered it. */
  async document(ctx: RequestContext, id: string, kind: 'pdf' | 'xml'): Promise<InvoiceDocumentFile> {
    const invoice = await this.findVisible(ctx, id);
    const path = kind === 'pdf' ? invoice.pdfPath : invoice.xmlPath;
    const sha256 = kind === 'pdf' ? invoice.pdfSha256 : invoice.xmlSha256;
    if (invoice.renderStatus !== 'rendered' || !path || !sha256) {
      throw ApiError.conflict(
        'invoice_not_rendered',
        'The documents of this invoice are being rendered: retry shortly',
        {
          invoice_id: id,
        },
      );
    }
    const file = await this.files.read(path);
    // Rendered documents are never expired nor removed: a missing one is a fault of the store, not of the request.
    if (!file) throw new Error(`invoice ${id}: its ${kind} is missing from the file store`);
    return {
      stream: file.stream,
      sizeBytes: file.info.sizeBytes,
      sha256,
      fileName: `invoice-${invoice.number}.${kind}`,
    };
  }

  /** Operator: render the documents again (after a template or font change); the invoice's fields stay as issued. */
  async rerender(ctx: RequestContext, id: string): Promise<InvoiceDto> {
    const invoice = await this.findVisible(ctx, id);
    await this.audit.record(ctx, {
      action: 'invoice.rerender_requested',
      objectType: 'invoice',
      objectId: id,
      enterpriseId: invoice.enterpriseId,
      summary: { number: invoice.number },
    });
    await this.queues.add(JobName.RenderInvoice, { invoiceId: id, rerender: true });
    return InvoiceDto.from(invoice, await this.repository.creditsOf(ctx, [id]));
  }

  private async listFiltered(
    ctx: RequestContext,
    filter: { enterpriseId?: string; kind?: 'blue' | 'red'; orderId?: string },
    query: ListInvoicesQueryDto,
  ): Promise<Page<InvoiceDto>> {
    const page = await this.repository.list(ctx, filter, query);
    const credits = await this.repository.creditsOf(
      ctx,
      page.data.filter((invoice) => invoice.kind === 'blue').map((invoice) => invoice.id),
    );
    return { ...page, data: page.data.map((invoice) => InvoiceDto.from(invoice, credits)) };
  }

  // ---- the writing itself

  /** The line of each order: what was paid less what went back before invoicing (orders with nothing left: none). */
  private async linesFor(ctx: RequestContext, orders: readonly Order[]): Promise<InvoiceLine[]> {
    const returns = await this.repository.returnsOf(
      ctx,
      orders.map((order) => order.id),
    );
    const lines: InvoiceLine[] = [];
    for (const order of orders) {
      const back = returns.get(order.id) ?? { faceValue: 0, amount: 0 };
      const amount = order.payable - back.amount;
      if (amount <= 0) continue;
      const faceValue = Math.max(amount, order.faceTotal - back.faceValue);
      lines.push(invoiceLine(this.settings, { orderId: order.id, poNumber: order.poNumber, faceValue, amount }));
    }
    return lines;
  }

  private alreadyInvoiced(invoiced: Map<string, string>): ApiError {
    return ApiError.conflict('already_invoiced', 'An order is invoiced at most once', {
      order_ids: [...invoiced.keys()],
      invoice_ids: [...new Set(invoiced.values())],
    });
  }

  private async issueBlue(
    ctx: RequestContext,
    profile: InvoiceProfile,
    lines: InvoiceLine[],
    reason: Extract<InvoiceReason, 'per_order' | 'monthly' | 'on_request'>,
    period: string | null,
  ): Promise<Invoice> {
    const buyer: InvoiceBuyer = {
      title: profile.title,
      taxpayer_id: profile.taxpayerId,
      address: profile.address,
      phone: profile.phone,
      bank: profile.bank,
      account: profile.account,
    };
    const invoice = await this.write(ctx, {
      enterpriseId: profile.enterpriseId,
      kind: 'blue',
      reason,
      buyer,
      lines,
      original: null,
      period,
      note: period ? `${period} 月度汇总开具` : null,
    });
    const conflicts = await this.repository.claimOrders(
      ctx,
      lines.map((line) => ({
        orderId: line.orderId,
        invoiceId: invoice.id,
        enterpriseId: profile.enterpriseId,
        faceValue: line.faceValue,
        amount: line.amount,
        credited: 0,
      })),
    );
    // A racing request claimed an order between the check and here: this whole transaction (number included) rolls back.
    if (conflicts.length > 0) throw this.alreadyInvoiced(new Map(conflicts.map((orderId) => [orderId, ''])));
    return invoice;
  }

  private async issueRed(
    ctx: RequestContext,
    original: Invoice,
    lines: InvoiceLine[],
    reason: Extract<InvoiceReason, 'order_cancelled' | 'cards_voided' | 'card_refunded' | 'issued_in_error'>,
    note: string | null,
  ): Promise<Invoice> {
    return this.write(ctx, {
      enterpriseId: original.enterpriseId,
      kind: 'red',
      reason,
      // The red-letter invoice names the buyer as the original did, whatever the profile says now.
      buyer: original.buyer,
      lines,
      original,
      period: null,
      note,
    });
  }

  /** Numbers, writes, announces and audits one invoice; its documents are rendered once this commits. */
  private async write(
    ctx: RequestContext,
    input: {
      enterpriseId: string;
      kind: 'blue' | 'red';
      reason: InvoiceReason;
      buyer: InvoiceBuyer;
      lines: InvoiceLine[];
      original: Invoice | null;
      period: string | null;
      note: string | null;
    },
  ): Promise<Invoice> {
    const issuedAt = new Date();
    const { year } = shanghaiYearMonth(issuedAt);
    const { issuerCode } = this.settings;
    const sequence = await this.repository.nextSequence(ctx, issuerCode, year);
    const totals = totalsOf(input.lines);
    const seller: InvoiceSeller = {
      name: this.settings.sellerName,
      taxpayer_id: this.settings.sellerTaxId,
      address: this.settings.sellerAddress,
      phone: this.settings.sellerPhone,
      bank: this.settings.sellerBank,
      account: this.settings.sellerAccount,
    };
    const invoice: Invoice = {
      id: newId('invoice'),
      enterpriseId: input.enterpriseId,
      number: invoiceNumber(issuerCode, year, sequence),
      issuerCode,
      year,
      sequence,
      kind: input.kind,
      invoiceType: 'ordinary',
      reason: input.reason,
      originalInvoiceId: input.original?.id ?? null,
      period: input.period,
      faceValue: totals.faceValue,
      discount: totals.discount,
      amount: totals.total,
      amountInWords: chineseCapitalAmount(totals.total),
      buyer: input.buyer,
      seller,
      lines: input.lines,
      note: input.note,
      issuedAt,
      renderStatus: 'pending',
      pdfPath: null,
      pdfSha256: null,
      xmlPath: null,
      xmlSha256: null,
      jsonSha256: null,
      renderedAt: null,
      emailedAt: null,
      createdAt: issuedAt,
    };
    await this.repository.insertInvoice(ctx, invoice);
    const data = {
      invoice_id: invoice.id,
      number: invoice.number,
      kind: invoice.kind,
      reason: invoice.reason,
      amount: invoice.amount,
      currency: 'CNY',
      order_ids: invoice.lines.map((line) => line.orderId),
      original_invoice_id: invoice.originalInvoiceId,
      original_number: input.original?.number ?? null,
    };
    await this.events.record(ctx, {
      enterpriseId: invoice.enterpriseId,
      type: invoice.kind === 'blue' ? 'invoice.issued' : 'invoice.credited',
      data,
    });
    await this.audit.append(ctx, {
      action: invoice.kind === 'blue' ? 'invoice.issued' : 'invoice.credited',
      objectType: 'invoice',
      objectId: invoice.id,
      enterpriseId: invoice.enterpriseId,
      summary: data,
    });
    await this.transactions.afterCommit(ctx, () => this.enqueueRender(invoice.id));
    return invoice;
  }

  private async enqueueRender(invoiceId: string): Promise<void> {
    try {
      await this.queues.add(JobName.RenderInvoice, { invoiceId }, { jobId: `render-${invoiceId}` });
    } catch (error) {
      // The sweep (SweepInvoiceRendering) finds it later.
      this.logger.warn({ msg: 'enqueueing an invoice rendering failed', invoiceId, err: error });
    }
  }
}
