import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../database/transformers';
import type { CardType } from '../catalog/product.entity';

export const BATCH_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** The cards of one order line, minted in chunks; serials are reserved for the whole batch up front. */
@Entity('issuance_batches')
// GET /v1/batches: a tenant's batches newest first.
@Index('issuance_batches_enterprise_id', ['enterpriseId', 'id'])
export class IssuanceBatch {
  @PrimaryColumn('text')
  id: string;

  @Index()
  @Column('text')
  orderId: string;

  @Column('text')
  enterpriseId: string;

  @Column('integer')
  lineNo: number;

  @Column('text')
  productId: string;

  @Column('text')
  cardType: CardType;

  /** fen per card */
  @Column('integer')
  faceValue: number;

  @Column('integer')
  count: number;

  @Column('integer')
  chunkSize: number;

  /** Sequence number of the first card; card i gets serial of (serialStart + i). */
  @Column('bigint', { transformer: bigintNumber })
  serialStart: number;

  /** Cards committed so far (checkpointed with each chunk). */
  @Column('integer', { default: 0 })
  issuedCount: number;

  @Column('text')
  status: BatchStatus;

  @Column('text', { nullable: true })
  failureReason: string | null;

  /** When the cards expire (product validity from issuance); null: no expiry. */
  @Column('timestamptz', { nullable: true })
  expiresAt: Date | null;

  @Column('timestamptz', { nullable: true })
  startedAt: Date | null;

  @Column('timestamptz', { nullable: true })
  completedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}

/** Checkpoint of one chunk: done in the same transaction as its cards, so a chunk is minted exactly once. */
@Entity('issuance_chunks')
export class IssuanceChunk {
  @PrimaryColumn('text')
  batchId: string;

  @PrimaryColumn('integer')
  chunkNo: number;

  @Column('integer')
  count: number;

  @Column('timestamptz', { nullable: true })
  doneAt: Date | null;
}
