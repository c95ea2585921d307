import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

/**
 * Accounts of the double-entry ledger (README.md, "The ledger"). prepaid and receivable are
 * per enterprise; the rest are platform-wide. Amounts are signed fen: debit
 * positive, credit negative, so every entry sums to zero.
 */
export enum LedgerAccount {
  /** Money received in the platform's bank account (asset, debit-normal). */
  Bank = 'bank',
  /** An enterprise's prepaid funds not yet spent (liability, credit-normal). */
  Prepaid = 'prepaid',
  /**
   * Bank transfers received for one bank_transfer order and not applied yet
   * (liability, credit-normal, per enterprise; each entry carries the order id).
   * Applied when the order is paid (the excess moves to prepaid) or released to
   * prepaid when it is cancelled.
   */
  OrderDeposits = 'order_deposits',
  /** Credit line an enterprise has drawn and not repaid (asset, debit-normal). */
  Receivable = 'receivable',
  /** Face value of paid orders whose cards are not issued yet (liability, credit-normal). */
  UnissuedOrders = 'unissued_orders',
  /** Value outstanding on live cards (liability, credit-normal). */
  CardFloat = 'card_float',
  /** Discounts granted on face value (contra-revenue, debit-normal). */
  SalesDiscount = 'sales_discount',
  RevenueRedeemed = 'revenue_redeemed',
  /** Value of expired cards. */
  Breakage = 'breakage',
  /**
   * Balances of registered cards redeemed for cash (赎回) and not paid out to their holders yet (liability,
   * credit-normal, platform-wide; each entry names the card in its memo).
   */
  CardRefundsPayable = 'card_refunds_payable',
}

/** Accounts kept per enterprise: their lines carry the enterprise id; all others are platform-wide. */
export const ENTERPRISE_ACCOUNTS: ReadonlySet<LedgerAccount> = new Set([
  LedgerAccount.Prepaid,
  LedgerAccount.OrderDeposits,
  LedgerAccount.Receivable,
]);

/** One balanced journal entry; append-only (the migration forbids UPDATE and DELETE). */
@Entity('ledger_entries')
// A statement reads an enterprise's entries in time order.
@Index('ledger_entries_enterprise_time', ['enterpriseId', 'createdAt'])
export class LedgerEntry {
  @PrimaryColumn('text')
  id: string;

  /** What happened, e.g. deposit, order_payment, order_refund, credit_repayment. */
  @Column('text')
  kind: string;

  @Index()
  @Column('text', { nullable: true })
  enterpriseId: string | null;

  @Index()
  @Column('text', { nullable: true })
  orderId: string | null;

  @Column('text', { nullable: true })
  paymentId: string | null;

  @Column('text')
  memo: string;

  @Column('text', { nullable: true })
  requestId: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}

@Entity('ledger_lines')
@Check('ledger_lines_amount_not_zero', '"amount" <> 0')
@Index('ledger_lines_account_enterprise', ['account', 'enterpriseId'])
export class LedgerLine {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Index()
  @Column('text')
  entryId: string;

  @Column('text')
  account: LedgerAccount;

  /** Set for per-enterprise accounts (prepaid, receivable). */
  @Column('text', { nullable: true })
  enterpriseId: string | null;

  /** Signed fen: debit positive, credit negative; never zero. */
  @Column('bigint', { transformer: bigintNumber })
  amount: number;
}
