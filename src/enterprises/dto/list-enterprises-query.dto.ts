import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString } from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';
import type { EnterpriseStatus } from '../enterprise.entity';
import { IsCreditCodeFormat, normaliseCreditCodeInput } from './credit-code.validator';
import { ENTERPRISE_STATUSES } from './fields';

export class ListEnterprisesQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ enum: ENTERPRISE_STATUSES })
  @IsOptional()
  @IsIn(ENTERPRISE_STATUSES)
  status?: EnterpriseStatus;

  @ApiPropertyOptional({ description: 'Exact unified social credit code', example: '91350100M000100Y43' })
  @IsOptional()
  @Transform(normaliseCreditCodeInput)
  @IsString()
  @IsCreditCodeFormat()
  credit_code?: string;
}
