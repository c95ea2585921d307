import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';

export class ListLedgerEntriesQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ description: 'Only entries of this enterprise', example: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  enterprise_id?: string;

  @ApiPropertyOptional({ description: 'Only entries of this order', example: 'ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  order_id?: string;

  @ApiPropertyOptional({ description: 'Only entries of this kind', example: 'order_payment' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  kind?: string;
}
