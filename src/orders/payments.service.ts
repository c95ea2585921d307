import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { CompliancePolicy } from '../catalog/compliance.policy';
import { TransactionService } from '../database/transaction.service';
import { EnterprisesService } from '../enterprises/enterprises.service';
import { LedgerAccount } from '../ledger/ledger.entity';
import { LedgerService } from '../ledger/ledger.service';
import { EventsService } from '../events/events.service';
import { PaymentDto, type AdminListPaymentsQueryDto, type RecordPaymentDto } from './dto/payment.dto';
import { OrdersService } from './orders.service';
import { OrdersRepository } from './orders.repository';

/**
 * Bank transfers (对公转账) the operator saw arrive: deposits to the prepaid
 * balance, transfers for one order, and credit repayments. A transfer is booked
 * once, by its bank reference, with its ledger entry and events in the same
 * transaction.
 */
@Injectable()
export class PaymentsService {
  constructor(
    private readonly repository: OrdersRepository,
    private readonly transactions: TransactionService,
    private readonly compliance: CompliancePolicy,
    private readonly enterprises: EnterprisesService,
    private readonly orders: OrdersService,
    private readonly ledger: LedgerService,
    private readonly events: EventsService,
    private readonly audit: AuditService,
  ) {}

  async record(ctx: RequestContext, dto: RecordPaymentDto): Promise<PaymentDto> {
    if (dto.kind !== 'order_transfer' && dto.order_id !== undefined) {
      throw ApiError.validation([{ field: 'order_id', message: 'order_id goes only with kind order_transfer' }]);
    }
    return this.transactions.run(ctx, async () => {
      const enterprise = await this.enterprises.findActive(ctx, dto.enterprise_id);
      this.compliance.checkCorporatePayer(dto.payer_account_name, enterprise);
      const order = dto.order_id ? await this.orders.lockOrder(ctx, enterprise.id, dto.order_id) : null;
      // A repeated confirmation is named as such, whatever the first one did to the order meanwhile.
      await this.refuseDuplicate(ctx, dto.bank_reference);
      if (order) {
        if (order.paymentMethod !== 'bank_transfer') {
          throw ApiError.unprocessable(
            'payment_method_mismatch',
            `Order ${order.id} is paid by ${order.paymentMethod}`,
          );
        }
        if (order.status !== 'pending_approval' && order.status !== 'pending_payment') {
          throw ApiError.conflict('invalid_state', `Order ${order.id} is ${order.status}: it takes no more transfers`, {
            order_id: order.id,
            order_status: order.status,
          });
        }
      }
      const id = newId('payment');
      // One transfer, one booking: a second confirmation of the same bank reference (even racing) is refused.
      const inserted = await this.repository.insertPayment(ctx, {
        id,
        enterpriseId: enterprise.id,
        orderId: order?.id ?? null,
        kind: dto.kind,
        amount: dto.amount,
        currency: 'CNY',
        payerAccountName: dto.payer_account_name,
        payerAccountNumber: dto.payer_account_number,
        bankReference: dto.bank_reference,
        receivedAt: dto.received_at ? new Date(dto.received_at) : new Date(),
        recordedByClientId: ctx.clientId!,
      });
      if (!inserted) await this.refuseDuplicate(ctx, dto.bank_reference);
      const payment = await this.repository.findPayment(ctx, { id });
      if (!payment) throw new Error(`payment ${id} was inserted but cannot be read back`);

      await this.ledger.lockEnterpriseFunds(ctx, enterprise.id);
      const credited: Array<{ account: LedgerAccount; amount: number; enterpriseId: string }> = [];
      if (dto.kind === 'order_transfer') {
        credited.push({ account: LedgerAccount.OrderDeposits, amount: -dto.amount, enterpriseId: enterprise.id });
      } else if (dto.kind === 'credit_repayment') {
        // Repay what is used; a transfer larger than the debt leaves the rest as prepaid balance.
        const repaid = Math.min(dto.amount, await this.ledger.creditUsed(ctx, enterprise.id));
        if (repaid > 0)
          credited.push({ account: LedgerAccount.Receivable, amount: -repaid, enterpriseId: enterprise.id });
        if (dto.amount > repaid) {
          credited.push({ account: LedgerAccount.Prepaid, amount: repaid - dto.amount, enterpriseId: enterprise.id });
        }
      } else {
        credited.push({ account: LedgerAccount.Prepaid, amount: -dto.amount, enterpriseId: enterprise.id });
      }
      await this.ledger.post(ctx, {
        kind: dto.kind,
        memo: `Bank transfer ${dto.bank_reference}`,
        enterpriseId: enterprise.id,
        orderId: order?.id ?? null,
        paymentId: id,
        lines: [{ account: LedgerAccount.Bank, amount: dto.amount }, ...credited],
      });
      await this.events.record(ctx, {
        enterpriseId: enterprise.id,
        type: 'payment.received',
        data: { payment_id: id, kind: dto.kind, order_id: order?.id ?? null, amount: dto.amount, currency: 'CNY' },
      });
      await this.audit.record(ctx, {
        action: 'payment.recorded',
        objectType: 'payment',
        objectId: id,
        enterpriseId: enterprise.id,
        summary: { kind: dto.kind, amount: dto.amount, order_id: order?.id ?? null },
      });
      if (order) await this.orders.settleTransfersIfCovered(ctx, order);
      return PaymentDto.from(payment);
    });
  }

  private async refuseDuplicate(ctx: RequestContext, bankReference: string): Promise<void> {
    const existing = await this.repository.findPayment(ctx, { bankReference });
    if (existing) {
      throw ApiError.conflict('payment_already_recorded', `Bank reference ${bankReference} is already booked`, {
        existing_payment_id: existing.id,
      });
    }
  }

  /** A payment by id: the operator's any, an enterprise client's only its own (another's is a 404). */
  async get(ctx: RequestContext, id: string): Promise<PaymentDto> {
    const payment = isId('payment', id)
      ? await this.repository.findPayment(ctx, ctx.isOperator ? { id } : { id, enterpriseId: ctx.enterpriseId })
      : null;
    if (!payment) throw ApiError.notFound('payment', id);
    return PaymentDto.from(payment);
  }

  /** Operators see every payment; an enterprise client only its own. */
  async list(ctx: RequestContext, query: AdminListPaymentsQueryDto): Promise<Page<PaymentDto>> {
    const enterpriseId = ctx.isOperator ? query.enterprise_id : ctx.enterpriseId;
    const page = await this.repository.listPayments(ctx, { enterpriseId, orderId: query.order_id }, query);
    return { ...page, data: page.data.map((payment) => PaymentDto.from(payment)) };
  }
}
