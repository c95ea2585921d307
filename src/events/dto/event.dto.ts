import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional } from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';
import { EVENT_TYPES } from '../event-catalog';
import type { Event } from '../event.entity';

export class ListEventsQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ enum: EVENT_TYPES })
  @IsOptional()
  @IsIn(EVENT_TYPES)
  type?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Created at or after' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_gte?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Created before' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_lt?: string;
}

export class EventDto {
  @ApiProperty({ enum: ['event'] })
  object: 'event';

  @ApiProperty({ example: 'evt_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty({ enum: EVENT_TYPES })
  type: string;

  @ApiProperty({ description: 'Version of the payload schema of this type', example: 1 })
  schema_version: number;

  @ApiProperty()
  enterprise_id: string;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The object the event is about (ids, serials, amounts in fen); never card codes or PINs',
  })
  data: Record<string, unknown>;

  static from(event: Event): EventDto {
    return {
      object: 'event',
      id: event.id,
      type: event.type,
      schema_version: event.schemaVersion,
      enterprise_id: event.enterpriseId,
      created_at: event.createdAt.toISOString(),
      data: event.data,
    };
  }
}
