import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** The stored outcome of a POST made with an Idempotency-Key, scoped to the API client. */
@Entity('idempotency_keys')
export class IdempotencyKey {
  @PrimaryColumn('text')
  clientId: string;

  @PrimaryColumn('text')
  key: string;

  /** SHA-256 of method, route and canonical body: a reuse with another request is refused. */
  @Column('text')
  fingerprint: string;

  @Column('integer')
  responseStatus: number;

  @Column('jsonb', { nullable: true })
  responseBody: object | null;

  @Index()
  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
