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
    enum: ['hash_mismatch', 'broken_link', 'missing_record'],
    description:
      'hash_mismatch: the record was edited; broken_link: its prev_hash is not the previous hash; missing_record: a seq is absent',
  })
  reason: ChainFailureReason;
}

/** The outcome of walking the audit chain from its first record. */
export class AuditVerificationDto {
  @ApiProperty({ enum: ['audit_verification'] })
  object: 'audit_verification';

  @ApiProperty({ description: 'True when every record is intact and linked to the one before it' })
  ok: boolean;

  @ApiProperty({ type: 'integer', description: 'Records read, up to and including the first failure' })
  records_checked: number;

  @ApiProperty({ type: AuditChainFailureDto, nullable: true })
  first_failure: AuditChainFailureDto | null;
}
