import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

export type EnterpriseStatus = 'active' | 'suspended';

/** A tenant: a company that buys cards for its employees. */
@Entity('enterprises')
export class Enterprise {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  name: string;

  /** 统一社会信用代码, validated with its check character; unique across tenants. */
  @Column('char', { length: 18, unique: true })
  creditCode: string;

  @Column('text', { default: 'active' })
  status: EnterpriseStatus;

  /** Invoice title (发票抬头); the tax number is the credit code. */
  @Column('text')
  invoiceTitle: string;

  @Column('text', { nullable: true })
  registeredAddress: string | null;

  @Column('text', { nullable: true })
  phone: string | null;

  @Column('text', { nullable: true })
  bankName: string | null;

  @Column('text', { nullable: true })
  bankAccount: string | null;

  @Column('text', { nullable: true })
  contactEmail: string | null;

  /** Discount on face value, in basis points (100 = 1%). */
  @Column('integer', { default: 0 })
  discountBps: number;

  /** Credit line in fen. */
  @Column('bigint', { default: 0, transformer: bigintNumber })
  creditLimit: number;

  /** Orders whose payable exceeds this (fen) wait for approval by another client; null: no approval step. */
  @Column('bigint', { nullable: true, transformer: bigintNumber })
  approvalThreshold: number | null;

  @Column('char', { length: 3, default: 'CNY' })
  currency: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
