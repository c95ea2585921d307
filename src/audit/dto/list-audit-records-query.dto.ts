import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';

export class ListAuditRecordsQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ description: 'Only records about this object', example: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  object_id?: string;

  @ApiPropertyOptional({ example: 'enterprise.updated' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  action?: string;

  @ApiPropertyOptional({ example: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  enterprise_id?: string;
}
