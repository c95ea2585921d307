import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, Unique, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';
import type { InvoiceLine, InvoiceType, InvoicingMode } from './invoice-policy';

export type InvoiceKind = 'blue' | 'red';
/** Why an invoice was issued: a mode for blue invoices, the money going back for red-letter ones. */
export type InvoiceReason = InvoicingMode | 'order_cancelled' | 'cards_voided' | 'card_refunded' | 'issued_in_error';
export type RenderStatus = 'pending' | 'rendered';

/** The buyer as the invoice states it (a copy of the profile when issued: the invoice never changes). */
export interface InvoiceBuyer {
  title: string;
  taxpayer_id: string;
  address: string | null;
  phone: string | null;
  bank: string | null;
  account: string | null;
}

/** The seller as configured when the invoice was issued. */
export interface InvoiceSeller {
  name: string;
  taxpayer_id: string;
  address: string;
  phone: string;
  bank: string;
  account: string;
}

/**
 * An issued invoice (blue) or red-letter invoice (red, negative amounts, referencing its original). Its fields are
 * written once, when issued; only the rendering columns (files, hashes, delivery) are filled in afterwards.
 */
@Entity('invoices')
@Unique('invoices_issuer_year_sequence', ['issuerCode', 'year', 'sequence'])
@Unique('invoices_number', ['number'])
@Index('invoices_enterprise', ['enterpriseId', 'id'])
@Index('invoices_original', ['originalInvoiceId'])
@Index('invoices_enterprise_period', ['enterpriseId', 'period'], { unique: true, where: `"period" IS NOT NULL` })
@Check('invoices_sign', `("kind" = 'blue' AND "amount" > 0) OR ("kind" = 'red' AND "amount" < 0)`)
@Check('invoices_red_has_original', `("kind" = 'red') = ("original_invoice_id" IS NOT NULL)`)
export class Invoice {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  number: string;

  @Column('text')
  issuerCode: string;

  @Column('integer')
  year: number;

  @Column('integer')
  sequence: number;

  @Column('text')
  kind: InvoiceKind;

  @Column('text')
  invoiceType: InvoiceType;

  @Column('text')
  reason: InvoiceReason;

  @Column('text', { nullable: true })
  originalInvoiceId: string | null;

  /** `YYYY-MM` of a monthly invoice: one per enterprise and month. */
  @Column('text', { nullable: true })
  period: string | null;

  @Column('bigint', { transformer: bigintNumber })
  faceValue: number;

  @Column('bigint', { transformer: bigintNumber })
  discount: number;

  /** 价税合计 in fen: what was paid (blue, positive) or goes back (red, negative). */
  @Column('bigint', { transformer: bigintNumber })
  amount: number;

  @Column('text')
  amountInWords: string;

  @Column('jsonb')
  buyer: InvoiceBuyer;

  @Column('jsonb')
  seller: InvoiceSeller;

  @Column('jsonb')
  lines: InvoiceLine[];

  @Column('text', { nullable: true })
  note: string | null;

  @Column('timestamptz')
  issuedAt: Date;

  @Column('text', { default: 'pending' })
  renderStatus: RenderStatus;

  @Column('text', { nullable: true })
  pdfPath: string | null;

  @Column('char', { length: 64, nullable: true })
  pdfSha256: string | null;

  @Column('text', { nullable: true })
  xmlPath: string | null;

  @Column('char', { length: 64, nullable: true })
  xmlSha256: string | null;

  @Column('char', { length: 64, nullable: true })
  jsonSha256: string | null;

  @Column('timestamptz', { nullable: true })
  renderedAt: Date | null;

  @Column('timestamptz', { nullable: true })
  emailedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}

/**
 * Which blue invoice covers an order (an order is invoiced at most once: the primary key), for how much, and how much
 * red-letter invoices have credited back since. A void in error deletes the row so the order can be invoiced again.
 */
@Entity('invoice_orders')
@Index('invoice_orders_invoice', ['invoiceId'])
@Check('invoice_orders_credited_range', '"credited" >= 0 AND "credited" <= "amount"')
export class InvoiceOrder {
  @PrimaryColumn('text')
  orderId: string;

  @Column('text')
  invoiceId: string;

  @Column('text')
  enterpriseId: string;

  @Column('bigint', { transformer: bigintNumber })
  faceValue: number;

  @Column('bigint', { transformer: bigintNumber })
  amount: number;

  @Column('bigint', { transformer: bigintNumber, default: 0 })
  credited: number;
}

/** Money that went back on an order (cancel after payment, void, refund): credited, or deducted when invoiced later. */
@Entity('invoice_order_returns')
@Index('invoice_order_returns_order', ['orderId'])
export class InvoiceOrderReturn {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  orderId: string;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  reason: InvoiceReason;

  @Column('bigint', { transformer: bigintNumber })
  faceValue: number;

  @Column('bigint', { transformer: bigintNumber })
  amount: number;

  /** The red-letter invoice that credited it, when the order was invoiced then. */
  @Column('text', { nullable: true })
  creditInvoiceId: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}

/** An enterprise's invoicing details (抬头 and the rest) and how it wants invoices. */
@Entity('invoice_profiles')
export class InvoiceProfile {
  @PrimaryColumn('text')
  enterpriseId: string;

  @Column('text')
  title: string;

  @Column('text')
  taxpayerId: string;

  @Column('text', { nullable: true })
  address: string | null;

  @Column('text', { nullable: true })
  phone: string | null;

  @Column('text', { nullable: true })
  bank: string | null;

  @Column('text', { nullable: true })
  account: string | null;

  @Column('text', { array: true, default: () => "'{}'" })
  emails: string[];

  @Column('text')
  mode: InvoicingMode;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}

/** The last sequence number issued per (issuer, year): bumped in the issuing transaction, so gapless and unique. */
@Entity('invoice_number_counters')
@Check('invoice_number_counters_positive', '"last_sequence" > 0')
export class InvoiceNumberCounter {
  @PrimaryColumn('text')
  issuerCode: string;

  @PrimaryColumn('integer')
  year: number;

  @Column('integer')
  lastSequence: number;
}
