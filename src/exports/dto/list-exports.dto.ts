import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional, Matches } from 'class-validator';
import { idPattern } from '../../common/ids';
import { ListQueryDto } from '../../common/pagination/pagination';

/** `GET /v1/exports`: newest first, filtered by order and creation time. */
export class ListExportsQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ description: 'The exports of one order' })
  @IsOptional()
  @Matches(idPattern('order'), { message: 'order_id must be an order id' })
  order_id?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Requested at or after' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_gte?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Requested before' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_lt?: string;
}
