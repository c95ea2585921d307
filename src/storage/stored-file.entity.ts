import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

/**
 * `writing`: content is being stored (invisible to readers); `complete`: the file readable under its key; `deleting`:
 * replaced, removed or expired, its S3 object being deleted before the row is (invisible too).
 */
export type StoredFileStatus = 'writing' | 'complete' | 'deleting';

/**
 * One version of a stored file (FileStorage): its key (a path such as `exports/exp_01….pgp`), size, SHA-256 and
 * expiry. Its bytes are the rows of stored_file_chunks, or the S3 object `objectKey` when S3_BUCKET was set as it was
 * written. At most one complete version per key: completing a new version retires the old one in the same transaction.
 */
@Entity('stored_files')
@Index('stored_files_key', ['key'], { unique: true, where: "status = 'complete'" })
@Index('stored_files_expires_at', ['expiresAt'], { where: 'expires_at IS NOT NULL' })
export class StoredFile {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  key: string;

  @Column('text')
  status: StoredFileStatus;

  @Column('bigint', { nullable: true })
  sizeBytes: string | null;

  /** SHA-256 of the content, lower-case hex; set when complete. */
  @Column('text', { nullable: true })
  sha256: string | null;

  @Column('timestamptz')
  createdAt: Date;

  @Column('timestamptz', { nullable: true })
  completedAt: Date | null;

  /** When the purge deletes it; null: kept until removed (invoices). */
  @Column('timestamptz', { nullable: true })
  expiresAt: Date | null;

  /** The object in S3_BUCKET that holds the content (S3_PREFIX included); null: stored_file_chunks hold it. */
  @Column('text', { nullable: true })
  objectKey: string | null;
}

/** The content of a stored file in order: chunk `seq` (0, 1, …) of at most CHUNK_BYTES. */
@Entity('stored_file_chunks')
export class StoredFileChunk {
  @PrimaryColumn('text')
  fileId: string;

  @PrimaryColumn('integer')
  seq: number;

  @Column('bytea')
  data: Buffer;

  @ManyToOne(() => StoredFile, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'file_id' })
  file?: StoredFile;
}
