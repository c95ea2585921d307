import { ApiProperty } from '@nestjs/swagger';
import type { CardType, Product } from '../product.entity';
import { CARD_TYPES } from './product-fields';

/** A card product as the operator API shows it. */
export class ProductDto {
  @ApiProperty({ enum: ['product'] })
  object: 'product';

  @ApiProperty({ example: 'prd_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty({ example: '福利电子卡 (不记名)' })
  name: string;

  @ApiProperty({ type: String, nullable: true })
  description: string | null;

  @ApiProperty({ enum: CARD_TYPES, description: 'anonymous (不记名) or registered (记名)' })
  card_type: CardType;

  @ApiProperty({
    type: 'array',
    items: { type: 'integer' },
    description: 'Face values in fen, ascending',
    example: [5_000, 10_000],
  })
  face_values: number[];

  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'Months a card stays valid after issuance; null: no expiry',
  })
  validity_months: number | null;

  @ApiProperty({ type: [String], description: 'Design codes; the first is the default', example: ['classic'] })
  designs: string[];

  @ApiProperty()
  greeting_allowed: boolean;

  @ApiProperty({ description: 'Listed to enterprises and orderable' })
  active: boolean;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ format: 'date-time' })
  updated_at: string;

  static from(this: void, product: Product): ProductDto {
    return {
      object: 'product',
      id: product.id,
      name: product.name,
      description: product.description,
      card_type: product.cardType,
      face_values: product.faceValues,
      validity_months: product.validityMonths,
      designs: product.designs,
      greeting_allowed: product.greetingAllowed,
      active: product.active,
      created_at: product.createdAt.toISOString(),
      updated_at: product.updatedAt.toISOString(),
    };
  }
}
