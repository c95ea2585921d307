import { ApiProperty } from '@nestjs/swagger';
import type { ChainFailureReason } from '../audit-chain';

export class AuditChainFailureDto {
  @ApiProperty({
    type: 'integer',
    description: 'Where the chain breaks; for missing_record, the seq that is missing',
    example: 17,
  })
  seq: number;

  @ApiProperty({ type: String, nullable: true, description: 'The failing record; null when it is missing' })
  id: string | null;

  @ApiProperty({
    enum: ['hash_mismatch', 'broken_link', 'missing_record', 'unknown_key', 'checkpoint_mismatch', 'truncated'],
    description:
      'hash_mismatch: the record was edited (its MAC or hash no longer matches); broken_link: its prev_hash is not the previous hash; missing_record: a seq is absent; unknown_key: a record or checkpoint names a key not configured; checkpoint_mismatch: a signed checkpoint does not match its record (or its signature is wrong); truncated: a checkpoint names a record past the end of the chain (its tail was deleted)',
  })
  reason: ChainFailureReason;
}

export class AuditChainHeadDto {
  @ApiProperty({ type: 'integer', example: 42 })
  seq: number;

  @ApiProperty({ pattern: '^[0-9a-f]{64}$' })
  hash: string;
}

/** The outcome of walking the audit chain from its first record. */
export class AuditVerificationDto {
  @ApiProperty({ enum: ['audit_verification'] })
  object: 'audit_verification';

  @ApiProperty({
    description: 'True when every record is intact and linked to the one before it, and every checkpoint matches',
  })
  ok: boolean;

  @ApiProperty({ type: 'integer', description: 'Records read, up to and including the first failure' })
  records_checked: number;

  @ApiProperty({ type: 'integer', description: 'Signed checkpoints checked against the chain' })
  checkpoints_checked: number;

  @ApiProperty({
    type: AuditChainHeadDto,
    nullable: true,
    description: 'The newest record verified, when all is intact: keep a copy elsewhere to compare later runs with',
  })
  head: AuditChainHeadDto | null;

  @ApiProperty({ type: AuditChainFailureDto, nullable: true })
  first_failure: AuditChainFailureDto | null;
}
