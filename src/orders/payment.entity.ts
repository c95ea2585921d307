import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

/**
 * deposit: funds the prepaid balance; order_transfer: a transfer for one order
 * (funds the prepaid balance, and pays the order once its transfers cover it);
 * credit_repayment: reduces the credit used.
 */
export type PaymentKind = 'deposit' | 'order_transfer' | 'credit_repayment';

/** A bank transfer (对公转账) received from an enterprise, recorded by the operator. */
@Entity('payments')
@Check('payments_amount_positive', '"amount" > 0')
export class Payment {
  @PrimaryColumn('text')
  id: string;

  @Index()
  @Column('text')
  enterpriseId: string;

  @Index()
  @Column('text', { nullable: true })
  orderId: string | null;

  @Column('text')
  kind: PaymentKind;

  @Column('bigint', { transformer: bigintNumber })
  amount: number;

  @Column('char', { length: 3, default: 'CNY' })
  currency: string;

  /** Name on the paying corporate account; must be the enterprise's. */
  @Column('text')
  payerAccountName: string;

  @Column('text')
  payerAccountNumber: string;

  /** The bank's reference for the transfer: one transfer is booked once. */
  @Index({ unique: true })
  @Column('text')
  bankReference: string;

  @Column('timestamptz')
  receivedAt: Date;

  @Column('text')
  recordedByClientId: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
