import { ApiProperty } from '@nestjs/swagger';

export class CardTrailStepDto {
  @ApiProperty({
    description:
      'minted, exported, distributed, claimed, bound, debited, reversed, frozen, unfrozen, lost, replaced, alert, … (else the action)',
  })
  step: string;
  @ApiProperty({ description: "The audit record's action, e.g. card.debited" }) action: string;
  @ApiProperty({ format: 'date-time' }) occurred_at: string;
  @ApiProperty({ type: String, nullable: true, description: 'The API client that acted (a channel, the enterprise)' })
  actor_client_id: string | null;
  @ApiProperty() object_type: string;
  @ApiProperty() object_id: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'What the audit record says (serials, amounts, to whom; never a code)',
  })
  summary: Record<string, unknown> | null;
  @ApiProperty({ description: "The audit record's id" }) audit_record_id: string;
  @ApiProperty({ description: "The record's place in the chain" }) seq: number;
  @ApiProperty({ description: 'The previous record’s hash' }) prev_hash: string;
  @ApiProperty({ description: "The record's hash: check it against GET /v1/admin/audit (and its verification)" })
  hash: string;
}

export class CardTrailDto {
  @ApiProperty({ enum: ['card_trail'] }) object: 'card_trail';
  @ApiProperty() serial: string;
  @ApiProperty() enterprise_id: string;
  @ApiProperty() order_id: string;
  @ApiProperty() status: string;
  @ApiProperty({ type: [CardTrailStepDto], description: 'Oldest first, in chain order' }) steps: CardTrailStepDto[];
}
