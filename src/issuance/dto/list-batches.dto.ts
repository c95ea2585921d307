import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, Matches } from 'class-validator';
import { idPattern } from '../../common/ids';
import { ListQueryDto } from '../../common/pagination/pagination';
import { BATCH_STATUSES, type BatchStatus } from '../issuance.entity';

/** `GET /v1/batches`: newest first, filtered by order, status and creation time. */
export class ListBatchesQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ description: 'The batches of one order (one per order line)' })
  @IsOptional()
  @Matches(idPattern('order'), { message: 'order_id must be an order id' })
  order_id?: string;

  @ApiPropertyOptional({ enum: BATCH_STATUSES })
  @IsOptional()
  @IsIn(BATCH_STATUSES)
  status?: BatchStatus;

  @ApiPropertyOptional({ format: 'date-time', description: 'Created (its order paid) at or after' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_gte?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Created before' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_lt?: string;
}
