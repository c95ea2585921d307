import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class LivenessDto {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status: 'ok';
}

const CHECKS_SCHEMA = {
  type: 'object' as const,
  additionalProperties: {
    type: 'object' as const,
    properties: { status: { type: 'string' as const, enum: ['up', 'down'] }, message: { type: 'string' as const } },
    required: ['status'],
  },
};

/** Terminus' health-check result: each dependency under its name, failed ones also under `error`. */
export class ReadinessDto {
  @ApiProperty({ enum: ['ok', 'error'], example: 'ok' })
  status: 'ok' | 'error';

  @ApiPropertyOptional({
    ...CHECKS_SCHEMA,
    description: 'Dependencies that answered',
    example: { database: { status: 'up' }, queue: { status: 'up' } },
  })
  info?: Record<string, { status: string; message?: string }>;

  @ApiPropertyOptional({ ...CHECKS_SCHEMA, description: 'Dependencies that did not answer', example: {} })
  error?: Record<string, { status: string; message?: string }>;

  @ApiProperty({
    ...CHECKS_SCHEMA,
    description: 'Every dependency checked',
    example: { database: { status: 'up' }, queue: { status: 'up' } },
  })
  details: Record<string, { status: string; message?: string }>;
}
