import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * An immutable record that something happened to an enterprise's objects,
 * written in the same transaction as the change: the outbox the webhook relay
 * delivers. Carries ids and serials, never card codes or PINs.
 */
@Entity('events')
@Index('events_enterprise_type', ['enterpriseId', 'type'])
@Index('events_enterprise_id', ['enterpriseId', 'id'])
export class Event {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  enterpriseId: string;

  /** e.g. order.created, payment.received. */
  @Column('text')
  type: string;

  /** Version of the payload schema of this type. */
  @Column('integer', { default: 1 })
  schemaVersion: number;

  @Column('jsonb')
  data: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  /** When the relay handed it to the delivery queue; null while pending (the outbox). */
  @Index({ where: 'relayed_at IS NULL' })
  @Column('timestamptz', { nullable: true })
  relayedAt: Date | null;
}
