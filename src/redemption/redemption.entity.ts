import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, Unique } from 'typeorm';
import { bigintNumber } from '../database/transformers';

export type RedemptionKind = 'bind' | 'debit' | 'reverse';

/**
 * A bind, debit or reversal by a redemption channel, idempotent by the channel's own reference: the unique
 * (client, reference) pair makes a retry return the stored answer, never a second movement. A debit may
 * span several cards of one holder; its per-card movements are card_transactions rows naming it.
 */
@Entity('redemptions')
@Unique('redemptions_client_reference', ['clientId', 'reference'])
// The channel settlement file reads one channel's day in time order.
@Index('redemptions_client_time', ['clientId', 'createdAt', 'id'])
@Check('redemptions_amounts', '"amount" >= 0 AND "reversed_amount" >= 0 AND "reversed_amount" <= "amount"')
export class Redemption {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  clientId: string;

  @Column('text')
  reference: string;

  @Column('text')
  kind: RedemptionKind;

  /** sha256 of what was asked: the same reference with another request is refused. */
  @Column('text')
  fingerprint: string;

  @Column('text')
  enterpriseId: string;

  @Column('text', { nullable: true })
  holderRef: string | null;

  /** fen: debited, or given back by a reversal; 0 for a bind. */
  @Column('bigint', { transformer: bigintNumber })
  amount: number;

  /** Debits: how much of the amount reversals have given back so far. */
  @Column('bigint', { transformer: bigintNumber, default: 0 })
  reversedAmount: number;

  /** Reversals: the debit reversed. */
  @Column('text', { nullable: true })
  reversesId: string | null;

  /** The answer given, replayed for a retry with the same reference (serials and amounts, never a code). */
  @Column('jsonb')
  response: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}

/**
 * Failed verify and bind attempts per key (client, holder account, calling IP, end-user IP, device) in a fixed
 * window, and the cool-down (or, for a client or calling IP, the slow-down) a key is blocked until: the Postgres
 * store of the guessing limiter when no REDIS_URL is set.
 */
@Entity('redemption_attempt_counters')
export class RedemptionAttemptCounter {
  @PrimaryColumn('text')
  key: string;

  @Column('integer')
  failures: number;

  @Column('timestamptz')
  windowEndsAt: Date;

  @Column('timestamptz', { nullable: true })
  blockedUntil: Date | null;
}
