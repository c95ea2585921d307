import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  ValidateNested,
} from 'class-validator';
import { PurchaserIdentityDto } from '../purchaser-identity';
import { idPattern } from '../../common/ids';
import { GreetingMaxLength, IsFenAmount, IsQuantity } from '../../common/validation-codes';

export const PAYMENT_METHODS = ['prepaid_balance', 'credit_line', 'bank_transfer'] as const;
export const MAX_LINES = 100;
export const MAX_QUANTITY = 1_000_000;
export const MAX_GREETING = 200;

export class OrderLineInputDto {
  @ApiProperty({ example: 'prd_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  @Matches(idPattern('product'), { message: 'product_id must be a product id' })
  product_id: string;

  @ApiProperty({ description: 'Face value of each card in fen; one the product offers', example: 50000 })
  @IsFenAmount()
  face_value: number;

  @ApiProperty({ minimum: 1, maximum: MAX_QUANTITY, example: 200 })
  @IsQuantity(MAX_QUANTITY)
  quantity: number;

  @ApiPropertyOptional({
    maxLength: MAX_GREETING,
    description: 'Printed on each card, if the product allows greetings',
  })
  @IsOptional()
  @IsString()
  @GreetingMaxLength(MAX_GREETING)
  greeting?: string;

  @ApiPropertyOptional({ description: "One of the product's designs; default its first", example: 'classic' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  design?: string;
}

export class CreateOrderDto {
  @ApiProperty({ description: 'Your purchase-order number, unique per enterprise', example: 'PO-2026-0042' })
  @IsString()
  @Length(1, 64)
  @Matches(/^[\x21-\x7e]+$/, { message: 'po_number must be visible ASCII characters' })
  po_number: string;

  @ApiProperty({ enum: PAYMENT_METHODS })
  @IsIn(PAYMENT_METHODS)
  payment_method: (typeof PAYMENT_METHODS)[number];

  @ApiProperty({ type: [OrderLineInputDto], minItems: 1, maxItems: MAX_LINES })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_LINES)
  @ValidateNested({ each: true })
  @Type(() => OrderLineInputDto)
  lines: OrderLineInputDto[];

  @ApiPropertyOptional({
    type: PurchaserIdentityDto,
    description: 'Required for registered cards and for anonymous orders from 10,000 CNY (real-name purchase rules)',
  })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => PurchaserIdentityDto)
  purchaser?: PurchaserIdentityDto;
}
