import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';
import { keyIdsOf, pendingProgress, remainingFor, sum, targetKeyIdOf } from '../reencryption-progress';
import { REENCRYPTION_STATUSES, type ReencryptionRun, type ReencryptionStatus } from '../reencryption-run.entity';
import { SEALED_COLUMN_NAMES } from '../sealed-columns';

export const DEFAULT_REENCRYPTION_BATCH = 5_000;
export const MIN_REENCRYPTION_BATCH = 100;
export const MAX_REENCRYPTION_BATCH = 10_000;

export class StartReencryptionDto {
  @ApiPropertyOptional({
    minimum: MIN_REENCRYPTION_BATCH,
    maximum: MAX_REENCRYPTION_BATCH,
    default: DEFAULT_REENCRYPTION_BATCH,
    description:
      'Rows read and re-sealed per transaction. Smaller batches hold row locks for less time (and go slower); ' +
      'the default suits a live system.',
  })
  @IsOptional()
  @IsInt()
  @Min(MIN_REENCRYPTION_BATCH)
  @Max(MAX_REENCRYPTION_BATCH)
  batch_size?: number;
}

export class ListReencryptionsQueryDto extends ListQueryDto {}

export class ReencryptionKeyProgressDto {
  @ApiProperty({
    example: 'k1',
    description:
      'A key id from DATA_ENCRYPTION_KEYS (or one the data names); for cards.code_hash a CODE_PEPPER id, or `legacy` (cards indexed before pepper ids)',
  })
  key_id: string;

  @ApiProperty({ description: 'Envelopes under this key when the run counted the column', example: 100_000 })
  rows_at_start: number;

  @ApiProperty({ description: 'Moved from this key to the target key', example: 60_000 })
  reencrypted: number;

  @ApiProperty({ description: 'Did not open (key not configured, or the envelope is damaged): left as they are' })
  unreadable: number;

  @ApiProperty({ description: 'Purged or rewritten by someone else while the run read them: left as they are' })
  changed_concurrently: number;

  @ApiProperty({
    description: 'Envelopes under this key the run has still to reach (an estimate while it runs; 0 when done)',
    example: 40_000,
  })
  remaining: number;

  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'Envelopes under this key once the column was done (counted again: exact); null before',
    example: null,
  })
  rows_after: number | null;
}

export class ReencryptionColumnDto {
  @ApiProperty({ enum: SEALED_COLUMN_NAMES, example: 'cards.secret_ciphertext' })
  column: string;

  @ApiProperty({ enum: ['pending', 'running', 'done'] })
  state: 'pending' | 'running' | 'done';

  @ApiProperty({ description: 'Rows of the table when the run counted it (0 before)', example: 100_000 })
  rows_total: number;

  @ApiProperty({ description: 'Rows walked so far', example: 60_000 })
  rows_scanned: number;

  @ApiProperty({ example: 60_000 })
  rows_reencrypted: number;

  @ApiProperty()
  rows_unreadable: number;

  @ApiProperty()
  rows_changed_concurrently: number;

  @ApiProperty({ description: 'Envelopes not under the target key still to reach (estimate while running)' })
  rows_remaining: number;

  @ApiProperty({ type: [ReencryptionKeyProgressDto], description: 'By key id, the target key first' })
  keys: ReencryptionKeyProgressDto[];

  @ApiProperty({
    type: [String],
    description: 'Primary keys of up to 10 unreadable rows (a card serial, an order id, `client id/key`)',
    example: [],
  })
  unreadable_samples: string[];
}

export class ReencryptionDto {
  @ApiProperty({ enum: ['reencryption'] })
  object: 'reencryption';

  @ApiProperty({ example: 'rek_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty({
    enum: REENCRYPTION_STATUSES,
    description:
      'queued → running → completed; failed: the run stopped (see failure_reason; what it re-encrypted stays so, a new run finishes the work)',
  })
  status: ReencryptionStatus;

  @ApiProperty({ example: 'k2', description: 'The active key when the run was started: everything moves under it' })
  target_key_id: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'p1',
    description:
      'The current CODE_PEPPER id when the run was started: cards.code_hash (blind index and PIN digest) is re-indexed under it',
  })
  target_code_key_id: string | null;

  @ApiProperty({ example: DEFAULT_REENCRYPTION_BATCH })
  batch_size: number;

  @ApiProperty({ example: 60_000 })
  rows_scanned: number;

  @ApiProperty({ example: 60_000 })
  rows_reencrypted: number;

  @ApiProperty()
  rows_unreadable: number;

  @ApiProperty()
  rows_changed_concurrently: number;

  @ApiProperty({ description: 'Sum of the columns’ rows_remaining', example: 40_000 })
  rows_remaining: number;

  @ApiProperty({ type: [ReencryptionColumnDto], description: 'Every encrypted column, in the order they are walked' })
  columns: ReencryptionColumnDto[];

  @ApiProperty({ type: String, nullable: true, example: null })
  failure_reason: string | null;

  @ApiProperty({ type: String, nullable: true })
  requested_by_client_id: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  started_at: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  completed_at: string | null;

  static from(run: ReencryptionRun): ReencryptionDto {
    const target = run.targetKeyId;
    const columns = SEALED_COLUMN_NAMES.map((name): ReencryptionColumnDto => {
      const progress = run.progress[name] ?? pendingProgress();
      const columnTarget = targetKeyIdOf(run, name);
      const keys = keyIdsOf(progress, columnTarget).map((keyId) => ({
        key_id: keyId,
        rows_at_start: progress.keysAtStart[keyId] ?? 0,
        reencrypted: progress.reencrypted[keyId] ?? 0,
        unreadable: progress.unreadable[keyId] ?? 0,
        changed_concurrently: progress.changed[keyId] ?? 0,
        remaining: remainingFor(progress, keyId, columnTarget),
        rows_after: progress.keysAfter ? (progress.keysAfter[keyId] ?? 0) : null,
      }));
      return {
        column: name,
        state: progress.state,
        rows_total: progress.rowsAtStart,
        rows_scanned: progress.scanned,
        rows_reencrypted: sum(progress.reencrypted),
        rows_unreadable: sum(progress.unreadable),
        rows_changed_concurrently: sum(progress.changed),
        rows_remaining: keys.reduce((total, key) => total + key.remaining, 0),
        keys,
        unreadable_samples: progress.unreadableSamples,
      };
    });
    const total = (
      field: 'rows_scanned' | 'rows_reencrypted' | 'rows_unreadable' | 'rows_changed_concurrently' | 'rows_remaining',
    ) => columns.reduce((sumOf, column) => sumOf + column[field], 0);
    return {
      object: 'reencryption',
      id: run.id,
      status: run.status,
      target_key_id: target,
      target_code_key_id: run.targetCodeKeyId,
      batch_size: run.batchSize,
      rows_scanned: total('rows_scanned'),
      rows_reencrypted: total('rows_reencrypted'),
      rows_unreadable: total('rows_unreadable'),
      rows_changed_concurrently: total('rows_changed_concurrently'),
      rows_remaining: total('rows_remaining'),
      columns,
      failure_reason: run.failureReason,
      requested_by_client_id: run.requestedByClientId,
      created_at: run.createdAt.toISOString(),
      started_at: run.startedAt?.toISOString() ?? null,
      completed_at: run.completedAt?.toISOString() ?? null,
    };
  }
}
