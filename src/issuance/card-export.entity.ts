import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** awaiting_purge_confirmation: a purging export nothing is built for until a second party confirms the purge. */
export type ExportStatus = 'awaiting_purge_confirmation' | 'pending' | 'running' | 'ready' | 'failed';

/**
 * An export of an order's card secrets, encrypted for the client; the file is
 * downloaded once through a link that expires. The manifest (row count, SHA-256
 * of the plaintext) lets the client check what it decrypted.
 */
@Entity('card_exports')
// GET /v1/exports: a tenant's exports newest first.
@Index('card_exports_enterprise_id', ['enterpriseId', 'id'])
export class CardExport {
  @PrimaryColumn('text')
  id: string;

  @Index()
  @Column('text')
  orderId: string;

  @Column('text')
  enterpriseId: string;

  @Column('text')
  requestedByClientId: string;

  @Column('text')
  status: ExportStatus;

  /** The registered, confirmed export key the file is encrypted to (null: exports from before keys were registered). */
  @Column('text', { nullable: true })
  exportKeyId: string | null;

  /** How the file is encrypted and for whom (e.g. the recipient key's fingerprint); never a secret. */
  @Column('jsonb')
  encryption: Record<string, unknown>;

  @Column('integer', { nullable: true })
  rowCount: number | null;

  @Column('text', { nullable: true })
  plaintextSha256: string | null;

  @Column('bigint', { nullable: true })
  sizeBytes: string | null;

  /** Where the encrypted file is kept until it is downloaded or expires. */
  @Column('text', { nullable: true })
  storagePath: string | null;

  /** SHA-256 of the one-time download token (the token itself is shown once). */
  @Column('text', { nullable: true })
  downloadTokenHash: string | null;

  @Column('timestamptz', { nullable: true })
  downloadExpiresAt: Date | null;

  @Column('timestamptz', { nullable: true })
  downloadedAt: Date | null;

  /** Purge anonymous cards' ciphertext once the export is ready (the codes then exist only in the file). */
  @Column('boolean', { default: false })
  purgeAfterExport: boolean;

  /** Who confirmed the purge (the operator, or another client with orders:approve than the requester), and when. */
  @Column('text', { nullable: true })
  purgeConfirmedByClientId: string | null;

  @Column('timestamptz', { nullable: true })
  purgeConfirmedAt: Date | null;

  @Column('text', { nullable: true })
  failureReason: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { nullable: true })
  completedAt: Date | null;
}
