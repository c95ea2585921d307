import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { IsFenAmount } from '../../common/validation-codes';
import { OmittableNotNull, trim, trimToNull } from '../../enterprises/dto/fields';
import type { CardType } from '../product.entity';
import {
  CARD_TYPES,
  DESCRIPTION_MAX,
  DESIGN_CODE,
  DESIGN_CODE_MESSAGE,
  MAX_DESIGNS,
  MAX_FACE_VALUE,
  MAX_FACE_VALUES,
  MAX_VALIDITY_MONTHS,
  MIN_FACE_VALUE,
  NAME_MAX,
} from './product-fields';

/**
 * Fields left out stay as they are; null clears description and makes validity_months "no expiry".
 * The result must still pass the compliance rules when the terms change (card_type, face_values,
 * validity_months) or the product is activated.
 */
export class UpdateProductDto {
  @ApiPropertyOptional({ maxLength: NAME_MAX })
  @OmittableNotNull()
  @Transform(trim)
  @IsString()
  @Length(1, NAME_MAX)
  name?: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: DESCRIPTION_MAX })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @MaxLength(DESCRIPTION_MAX)
  description?: string | null;

  @ApiPropertyOptional({ enum: CARD_TYPES })
  @OmittableNotNull()
  @IsIn(CARD_TYPES)
  card_type?: CardType;

  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'integer', minimum: MIN_FACE_VALUE, maximum: MAX_FACE_VALUE },
    minItems: 1,
    maxItems: MAX_FACE_VALUES,
    uniqueItems: true,
    description: 'Replaces the face values on offer (fen, 50–5,000 CNY, no duplicates); stored ascending',
  })
  @OmittableNotNull()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MAX_FACE_VALUES)
  @ArrayUnique()
  @IsFenAmount({ min: MIN_FACE_VALUE, max: MAX_FACE_VALUE, each: true })
  face_values?: number[];

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: MAX_VALIDITY_MONTHS,
    description: 'Months a card stays valid after issuance; null: no expiry. Applies to cards issued from now on',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_VALIDITY_MONTHS)
  validity_months?: number | null;

  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'string', pattern: DESIGN_CODE.source },
    minItems: 1,
    maxItems: MAX_DESIGNS,
    uniqueItems: true,
    description: 'Replaces the design codes; the first is the default',
  })
  @OmittableNotNull()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MAX_DESIGNS)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(DESIGN_CODE, { each: true, message: DESIGN_CODE_MESSAGE })
  designs?: string[];

  @ApiPropertyOptional()
  @OmittableNotNull()
  @IsBoolean()
  greeting_allowed?: boolean;

  @ApiPropertyOptional({
    description: 'false: withdrawn from the catalogue (existing orders and cards are unaffected)',
  })
  @OmittableNotNull()
  @IsBoolean()
  active?: boolean;
}
