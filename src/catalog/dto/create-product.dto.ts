import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
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

export class CreateProductDto {
  @ApiProperty({ maxLength: NAME_MAX, example: '福利电子卡 (不记名)' })
  @Transform(trim)
  @IsString()
  @Length(1, NAME_MAX)
  name: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: DESCRIPTION_MAX })
  @IsOptional()
  @Transform(trimToNull)
  @IsString()
  @MaxLength(DESCRIPTION_MAX)
  description?: string | null;

  @ApiProperty({
    enum: CARD_TYPES,
    description:
      'anonymous (不记名): at most 1,000 CNY per card, valid at least 3 years; registered (记名): at most 5,000 CNY per card, sold by real name',
  })
  @IsIn(CARD_TYPES)
  card_type: CardType;

  @ApiProperty({
    type: 'array',
    items: { type: 'integer', minimum: MIN_FACE_VALUE, maximum: MAX_FACE_VALUE },
    minItems: 1,
    maxItems: MAX_FACE_VALUES,
    uniqueItems: true,
    description:
      "Face values on offer, in fen (50–5,000 CNY), no duplicates; stored ascending. Each must be within the card type's single-card limit (422 card_limit_exceeded)",
    example: [5_000, 10_000, 50_000],
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MAX_FACE_VALUES)
  @ArrayUnique()
  @IsFenAmount({ min: MIN_FACE_VALUE, max: MAX_FACE_VALUE, each: true })
  face_values: number[];

  @ApiProperty({
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: MAX_VALIDITY_MONTHS,
    description:
      'Months a card stays valid after issuance; null: no expiry. Anonymous products need at least 36 months or null (422 validity_too_short)',
    example: 36,
  })
  @ValidateIf((_object: unknown, value: unknown) => value !== null)
  @IsDefined({ message: 'validity_months is required: a number of months, or null for no expiry' })
  @IsInt()
  @Min(1)
  @Max(MAX_VALIDITY_MONTHS)
  validity_months: number | null;

  @ApiProperty({
    type: 'array',
    items: { type: 'string', pattern: DESIGN_CODE.source },
    minItems: 1,
    maxItems: MAX_DESIGNS,
    uniqueItems: true,
    description: 'Card design codes an order may pick; the first is the default',
    example: ['classic', 'spring_festival'],
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MAX_DESIGNS)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(DESIGN_CODE, { each: true, message: DESIGN_CODE_MESSAGE })
  designs: string[];

  @ApiPropertyOptional({ default: false, description: 'Orders may print a greeting on these cards' })
  @OmittableNotNull()
  @IsBoolean()
  greeting_allowed?: boolean;

  @ApiPropertyOptional({
    default: true,
    description: 'Only active products are listed to enterprises and can be ordered',
  })
  @OmittableNotNull()
  @IsBoolean()
  active?: boolean;
}
