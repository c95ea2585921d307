import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional } from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';
import type { CardType } from '../product.entity';
import { CARD_TYPES, queryBoolean } from './product-fields';

/** Enterprise catalogue: active products only. */
export class ListCatalogQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ enum: CARD_TYPES })
  @IsOptional()
  @IsIn(CARD_TYPES)
  card_type?: CardType;
}

/** Operator list: every product. */
export class ListProductsQueryDto extends ListCatalogQueryDto {
  @ApiPropertyOptional({ type: Boolean, description: 'true: on sale; false: withdrawn' })
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean({ message: 'active must be true or false' })
  active?: boolean;
}
