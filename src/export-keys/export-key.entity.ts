import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * pending_confirmation: registered, not usable yet; confirmed: exports may name it; revoked: never again (a key is
 * registered anew to be used again).
 */
export type ExportKeyStatus = 'pending_confirmation' | 'confirmed' | 'revoked';

/**
 * An OpenPGP public key an enterprise registered as a recipient of its card-code exports. Exports name one by id;
 * it becomes usable once a second party (the operator, or another client of the enterprise with orders:approve)
 * has confirmed it, so one stolen token cannot send codes to a key of its own.
 */
@Entity('export_keys')
@Index('export_keys_enterprise', ['enterpriseId', 'id'])
@Index('export_keys_fingerprint', ['enterpriseId', 'fingerprint'], { unique: true, where: "status <> 'revoked'" })
@Check('export_keys_status', `status IN ('pending_confirmation', 'confirmed', 'revoked')`)
export class ExportKey {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  enterpriseId: string;

  @Column('text', { nullable: true })
  label: string | null;

  /** Primary key fingerprint, lower-case hex (what `gpg --fingerprint` shows, without spaces). */
  @Column('text')
  fingerprint: string;

  /** Key id of the (sub)key files are encrypted to, as of registration. */
  @Column('text')
  encryptionKeyId: string;

  @Column('text')
  algorithm: string;

  @Column('text', { array: true })
  userIds: string[];

  /** The public key, re-armored: public data. */
  @Column('text')
  publicKey: string;

  @Column('text')
  status: ExportKeyStatus;

  @Column('text')
  registeredByClientId: string;

  @Column('text', { nullable: true })
  confirmedByClientId: string | null;

  @Column('timestamptz', { nullable: true })
  confirmedAt: Date | null;

  @Column('text', { nullable: true })
  revokedByClientId: string | null;

  @Column('timestamptz', { nullable: true })
  revokedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
