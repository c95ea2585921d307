import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import type { Scope } from '../common/access/scopes';

export type ApiClientStatus = 'active' | 'revoked';

/** A machine credential: bound to one enterprise, or an operator client when enterpriseId is null. */
@Entity('api_clients')
export class ApiClient {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  name: string;

  @Index()
  @Column('text', { nullable: true })
  enterpriseId: string | null;

  @Column('text', { array: true })
  scopes: Scope[];

  /** CIDR blocks the client may call from; empty means anywhere. */
  @Column('text', { array: true, default: () => "'{}'" })
  ipAllowlist: string[];

  @Column('text', { default: 'active' })
  status: ApiClientStatus;

  /**
   * Redemption channels (redemptions:write): where the claim page sends an employee to add a card to their account
   * there, with `?ticket=` appended; null: the channel offers no "add to my account".
   */
  @Column('text', { nullable: true })
  claimBindUrl: string | null;

  @Column('timestamptz', { nullable: true })
  revokedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}

/** A client secret, stored only as a scrypt hash; up to two are active during a rotation. */
@Entity('api_client_secrets')
export class ApiClientSecret {
  @PrimaryColumn('text')
  id: string;

  @Index()
  @Column('text')
  clientId: string;

  @Column('text')
  hash: string;

  /** First characters of the secret, to tell secrets apart in listings. */
  @Column('text')
  hint: string;

  @Column('timestamptz', { nullable: true })
  expiresAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
