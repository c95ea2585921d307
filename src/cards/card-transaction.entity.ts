import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';

/** What happened to a card: redemption-channel operations and lifecycle changes. */
export const CARD_TRANSACTION_KINDS = [
  'bind',
  'debit',
  'reverse',
  'freeze',
  'unfreeze',
  'lost',
  'replacement',
  'replaced',
  'void',
  'refund',
  'expire',
  'reactivate',
] as const;

export type CardTransactionKind = (typeof CARD_TRANSACTION_KINDS)[number];

/**
 * One movement or change of one card, append-only, written in the transaction of the change with its ledger
 * entry (when money moved) and its event: `GET /v1/cards/{serial}/transactions` lists them.
 */
@Entity('card_transactions')
@Index('card_transactions_serial', ['serial', 'id'])
// A statement reads an enterprise's movements in time order.
@Index('card_transactions_enterprise_time', ['enterpriseId', 'createdAt', 'id'])
// Fraud rules count a channel's binds per holder (and per channel) and a card's recent debits (src/risk/).
@Index('card_transactions_binds', ['clientId', 'holderRef', 'createdAt'], { where: "kind = 'bind'" })
@Index('card_transactions_debits', ['serial', 'createdAt'], { where: "kind = 'debit'" })
// The IP rules count a card's end-user IPs of the last hour or day: only rows with an IP, by time.
@Index('card_transactions_end_user_ips', ['serial', 'createdAt'], { where: 'end_user_ip IS NOT NULL' })
export class CardTransaction {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column('bigint', { transformer: bigintNumber })
  serial: number;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  kind: CardTransactionKind;

  /** Signed change of the balance in fen (negative: spent, voided, expired…); 0 for freeze, bind and the like. */
  @Column('bigint', { transformer: bigintNumber })
  amount: number;

  @Column('bigint', { transformer: bigintNumber })
  balanceAfter: number;

  /** The redemption (bind, debit, reverse) this belongs to; null for lifecycle changes. */
  @Index({ where: '"redemption_id" IS NOT NULL' })
  @Column('text', { nullable: true })
  redemptionId: string | null;

  @Column('text', { nullable: true })
  holderRef: string | null;

  /** The API client that made the change; null for scheduled work (expiry). */
  @Column('text', { nullable: true })
  clientId: string | null;

  /**
   * The end user's IP address as the redemption channel sent it (end_user.ip or X-End-User-IP) on a bind or debit;
   * null when the channel sent none, and for every other movement. The IP fraud rules count it (src/risk/).
   */
  @Column('inet', { nullable: true })
  endUserIp: string | null;

  /** The other card of a replacement. */
  @Column('bigint', { nullable: true, transformer: bigintNumber })
  relatedSerial: number | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
