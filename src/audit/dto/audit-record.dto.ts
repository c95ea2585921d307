import { ApiProperty } from '@nestjs/swagger';
import type { AuditData } from '../audit-chain';
import type { AuditRecord } from '../audit-record.entity';

const SHA256 = { type: String, nullable: true, pattern: '^[0-9a-f]{64}$' } as const;

export class AuditRecordDataDto {
  @ApiProperty({
    ...SHA256,
    description: 'SHA-256 of the canonical JSON of the object before the change; null on creation',
  })
  before_sha256: string | null;

  @ApiProperty({
    ...SHA256,
    description: 'SHA-256 of the canonical JSON of the object after the change; null on deletion',
  })
  after_sha256: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'What changed, without secrets',
    example: { changed: ['discount_bps'], discount_bps: { from: 0, to: 300 } },
  })
  summary: Record<string, unknown> | null;
}

/** One link of the hash-chained audit log. */
export class AuditRecordDto {
  @ApiProperty({ enum: ['audit_record'] })
  object: 'audit_record';

  @ApiProperty({ example: 'aud_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty({ type: 'integer', description: 'Gap-free position in the chain, from 1', example: 42 })
  seq: number;

  @ApiProperty({ format: 'date-time' })
  occurred_at: string;

  @ApiProperty({ type: String, nullable: true, description: 'API client that acted; null for the system itself' })
  actor_client_id: string | null;

  @ApiProperty({ type: String, nullable: true })
  enterprise_id: string | null;

  @ApiProperty({ example: 'enterprise.updated' })
  action: string;

  @ApiProperty({ example: 'enterprise' })
  object_type: string;

  @ApiProperty({ example: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  object_id: string;

  @ApiProperty({ type: String, nullable: true })
  request_id: string | null;

  @ApiProperty({ type: AuditRecordDataDto })
  data: AuditRecordDataDto;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Id of the server-held key of `mac`; null for records written before the chain was keyed',
    example: 'pepper',
  })
  key_id: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    pattern: '^[0-9a-f]{64}$',
    description: 'HMAC-SHA256 of the canonical JSON of every field but seq and the hashes, under key_id',
  })
  mac: string | null;

  @ApiProperty({ pattern: '^[0-9a-f]{64}$', description: 'hash of the previous record; 64 zeros for the first' })
  prev_hash: string;

  @ApiProperty({
    pattern: '^[0-9a-f]{64}$',
    description:
      'SHA-256 of `prev_hash:seq:mac`; for records from before the chain was keyed, SHA-256 over the canonical JSON of every other field',
  })
  hash: string;

  static from(this: void, record: AuditRecord): AuditRecordDto {
    const data = record.data as Partial<AuditData>;
    return {
      object: 'audit_record',
      id: record.id,
      seq: record.seq,
      occurred_at: record.occurredAt.toISOString(),
      actor_client_id: record.actorClientId,
      enterprise_id: record.enterpriseId,
      action: record.action,
      object_type: record.objectType,
      object_id: record.objectId,
      request_id: record.requestId,
      data: {
        before_sha256: data.before_sha256 ?? null,
        after_sha256: data.after_sha256 ?? null,
        summary: data.summary ?? null,
      },
      key_id: record.keyId,
      mac: record.mac,
      prev_hash: record.prevHash,
      hash: record.hash,
    };
  }
}
