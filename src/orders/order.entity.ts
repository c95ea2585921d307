import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, Unique, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';
import type { OrderStatus } from './order-state';

export type PaymentMethod = 'prepaid_balance' | 'credit_line' | 'bank_transfer';

/** Masked purchaser identity, safe to return; the full identity is only stored encrypted. */
export interface MaskedPurchaser {
  name: string;
  id_type: string;
  id_number: string;
  phone: string;
}

/** A bulk order of cards by one enterprise; money in fen. */
@Entity('orders')
@Check(
  'orders_money_consistent',
  '"face_total" > 0 AND "discount_total" >= 0 AND "payable" = "face_total" - "discount_total"',
)
@Unique('orders_enterprise_po_number', ['enterpriseId', 'poNumber'])
@Index('orders_enterprise_status', ['enterpriseId', 'status'])
export class Order {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  enterpriseId: string;

  /** The client's purchase-order number, unique per enterprise. */
  @Column('text')
  poNumber: string;

  @Column('text')
  status: OrderStatus;

  @Column('char', { length: 3, default: 'CNY' })
  currency: string;

  @Column('bigint', { transformer: bigintNumber })
  faceTotal: number;

  /** The enterprise's discount when the order was placed, in basis points. */
  @Column('integer')
  discountBps: number;

  @Column('bigint', { transformer: bigintNumber })
  discountTotal: number;

  @Column('bigint', { transformer: bigintNumber })
  payable: number;

  @Column('text')
  paymentMethod: PaymentMethod;

  /** AES-256-GCM envelope of the purchaser identity (real-name rules), with its key id. */
  @Column('text', { nullable: true })
  purchaserCiphertext: string | null;

  @Column('jsonb', { nullable: true })
  purchaserMasked: MaskedPurchaser | null;

  @Column('text')
  createdByClientId: string;

  @Column('text', { nullable: true })
  decidedByClientId: string | null;

  @Column('timestamptz', { nullable: true })
  decidedAt: Date | null;

  @Column('text', { nullable: true })
  rejectionReason: string | null;

  @Column('text', { nullable: true })
  cancellationReason: string | null;

  @Column('timestamptz', { nullable: true })
  paidAt: Date | null;

  @Column('timestamptz', { nullable: true })
  cancelledAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}

/** One line of an order: a product at one face value, a quantity, and what goes on the cards. */
@Entity('order_lines')
@Check('order_lines_quantity_range', '"quantity" BETWEEN 1 AND 1000000')
@Check('order_lines_face_value_positive', '"face_value" > 0')
@Unique('order_lines_order_line_no', ['orderId', 'lineNo'])
export class OrderLine {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  orderId: string;

  /** 1-based position in the order. */
  @Column('integer')
  lineNo: number;

  @Column('text')
  productId: string;

  /** Fen per card. */
  @Column('integer')
  faceValue: number;

  @Column('integer')
  quantity: number;

  @Column('bigint', { transformer: bigintNumber })
  faceTotal: number;

  @Column('text', { nullable: true })
  greeting: string | null;

  @Column('text')
  design: string;
}
