import type { AuditService } from '../audit/audit.service';
import { CompliancePolicy } from '../catalog/compliance.policy';
import { RequestContext } from '../common/context/request-context';
import { AppConfig } from '../config/app-config';
import type { TransactionService } from '../database/transaction.service';
import type { Enterprise } from '../enterprises/enterprise.entity';
import type { EnterprisesService } from '../enterprises/enterprises.service';
import { LedgerAccount } from '../ledger/ledger.entity';
import type { LedgerService } from '../ledger/ledger.service';
import type { EventsService } from '../events/events.service';
import type { RecordPaymentDto } from './dto/payment.dto';
import type { Order } from './order.entity';
import type { OrdersRepository } from './orders.repository';
import type { OrdersService } from './orders.service';
import type { Payment } from './payment.entity';
import { PaymentsService } from './payments.service';

const ENTERPRISE = { id: 'ent_1', name: 'Acme Ltd', invoiceTitle: 'Acme Ltd', status: 'active' } as Enterprise;

function setup(order?: Partial<Order>) {
  const payments = new Map<string, Payment>();
  const repository = {
    async insertPayment(_ctx: RequestContext, payment: Omit<Payment, 'createdAt'>) {
      if ([...payments.values()].some((row) => row.bankReference === payment.bankReference)) return false;
      payments.set(payment.id, { ...payment, createdAt: new Date() });
      return true;
    },
    async findPayment(_ctx: RequestContext, where: { id?: string; bankReference?: string }) {
      return (
        [...payments.values()].find((row) => row.id === where.id || row.bankReference === where.bankReference) ?? null
      );
    },
  };
  const settled: string[] = [];
  const orders = {
    lockOrder: async () => ({ id: 'ord_1', paymentMethod: 'bank_transfer', status: 'pending_payment', ...order }),
    settleTransfersIfCovered: async (_ctx: RequestContext, locked: Order) => settled.push(locked.id),
  };
  const postings: Array<{ kind: string; lines: Array<{ account: LedgerAccount; amount: number }> }> = [];
  const ledger = {
    lockEnterpriseFunds: async () => undefined,
    creditUsed: async () => 30_000,
    post: async (_ctx: RequestContext, entry: (typeof postings)[number]) => postings.push(entry),
  };
  const service = new PaymentsService(
    repository as unknown as OrdersRepository,
    { run: async <T>(_ctx: RequestContext, work: () => Promise<T>) => work() } as unknown as TransactionService,
    new CompliancePolicy(new AppConfig()),
    { findActive: async () => ENTERPRISE } as unknown as EnterprisesService,
    orders as unknown as OrdersService,
    ledger as unknown as LedgerService,
    { record: async () => undefined } as unknown as EventsService,
    { record: async () => undefined } as unknown as AuditService,
  );
  return { service, postings, settled };
}

const operator = () =>
  new RequestContext('req_test', { clientId: 'cli_op', enterpriseId: null, scopes: new Set(['admin']) });
const transfer = (extra: Partial<RecordPaymentDto> = {}): RecordPaymentDto => ({
  enterprise_id: ENTERPRISE.id,
  kind: 'deposit',
  amount: 50_000,
  payer_account_name: 'Acme Ltd',
  payer_account_number: '6222020000000000',
  bank_reference: `REF-${Math.random()}`,
  ...extra,
});

describe('PaymentsService', () => {
  it('books a transfer once: the same bank reference again is a 409', async () => {
    const { service } = setup();
    const dto = transfer();
    await service.record(operator(), dto);
    await expect(service.record(operator(), dto)).rejects.toMatchObject({ code: 'payment_already_recorded' });
  });

  it('refuses a payer that is not the enterprise', async () => {
    const { service } = setup();
    await expect(service.record(operator(), transfer({ payer_account_name: 'Someone else' }))).rejects.toMatchObject({
      code: 'corporate_payer_required',
    });
  });

  it('repays the credit used and leaves the rest as prepaid balance', async () => {
    const { service, postings } = setup();
    await service.record(operator(), transfer({ kind: 'credit_repayment', amount: 50_000 }));
    expect(postings[0].lines).toEqual([
      { account: LedgerAccount.Bank, amount: 50_000 },
      { account: LedgerAccount.Receivable, amount: -30_000, enterpriseId: ENTERPRISE.id },
      { account: LedgerAccount.Prepaid, amount: -20_000, enterpriseId: ENTERPRISE.id },
    ]);
  });

  it("holds an order's transfer for it and lets the order settle; refuses one for an order paid otherwise", async () => {
    const { service, postings, settled } = setup();
    await service.record(operator(), transfer({ kind: 'order_transfer', order_id: 'ord_1' }));
    expect(postings[0].lines[1]).toEqual({
      account: LedgerAccount.OrderDeposits,
      amount: -50_000,
      enterpriseId: 'ent_1',
    });
    expect(settled).toEqual(['ord_1']);
    const other = setup({ paymentMethod: 'prepaid_balance' });
    await expect(
      other.service.record(operator(), transfer({ kind: 'order_transfer', order_id: 'ord_1' })),
    ).rejects.toMatchObject({ code: 'payment_method_mismatch' });
  });
});
