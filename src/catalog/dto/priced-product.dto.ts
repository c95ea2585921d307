import { ApiProperty } from '@nestjs/swagger';
import { unitPrice } from '../pricing';
import type { CardType, Product } from '../product.entity';
import { CARD_TYPES } from './product-fields';

export class ProductPriceDto {
  @ApiProperty({ type: 'integer', description: 'Face value of one card, fen', example: 10_000 })
  face_value: number;

  @ApiProperty({
    type: 'integer',
    description: 'What one card costs this enterprise, fen: face value minus its discount, rounded half up',
    example: 9_750,
  })
  price: number;
}

/**
 * A product as an enterprise sees it: on sale, with its own price per face value. An order's payable is
 * computed on the order's face total (discount rounded once), so it may differ by a fen from the sum of
 * these unit prices.
 */
export class PricedProductDto {
  @ApiProperty({ enum: ['product'] })
  object: 'product';

  @ApiProperty({ example: 'prd_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty({ example: '福利电子卡 (不记名)' })
  name: string;

  @ApiProperty({ type: String, nullable: true })
  description: string | null;

  @ApiProperty({
    enum: CARD_TYPES,
    description: 'anonymous (不记名) or registered (记名: needs the purchaser identity)',
  })
  card_type: CardType;

  @ApiProperty({
    type: 'array',
    items: { type: 'integer' },
    description: 'Face values in fen, ascending',
    example: [5_000, 10_000],
  })
  face_values: number[];

  @ApiProperty({ type: [ProductPriceDto], description: 'One per face value, in the same order' })
  prices: ProductPriceDto[];

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    maximum: 10_000,
    description: "The enterprise's discount in basis points",
  })
  discount_bps: number;

  @ApiProperty({ example: 'CNY' })
  currency: string;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'Months a card stays valid after issuance; null: no expiry',
  })
  validity_months: number | null;

  @ApiProperty({
    type: [String],
    description: 'Design codes an order may pick; the first is the default',
    example: ['classic'],
  })
  designs: string[];

  @ApiProperty({ description: 'Orders may print a greeting on these cards' })
  greeting_allowed: boolean;

  @ApiProperty({ format: 'date-time' })
  updated_at: string;

  static from(this: void, product: Product, discountBps: number, currency: string): PricedProductDto {
    return {
      object: 'product',
      id: product.id,
      name: product.name,
      description: product.description,
      card_type: product.cardType,
      face_values: product.faceValues,
      prices: product.faceValues.map((faceValue) => ({
        face_value: faceValue,
        price: unitPrice(faceValue, discountBps),
      })),
      discount_bps: discountBps,
      currency,
      validity_months: product.validityMonths,
      designs: product.designs,
      greeting_allowed: product.greetingAllowed,
      updated_at: product.updatedAt.toISOString(),
    };
  }
}
