import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsISO8601, IsObject, IsOptional, Matches } from 'class-validator';
import { DISTRIBUTION_CHANNELS, DISTRIBUTION_LOCALES } from '../distribution.entity';
import { PURCHASER_ID_TYPES } from '../../orders/purchaser-identity';
import { GREETING_MAX, MAX_INLINE_RECIPIENTS } from '../recipient-rows';

export class RealNameInputDto {
  @ApiProperty({ description: 'Full name as on the identity document', example: '张三', maxLength: 50 })
  name: string;

  @ApiProperty({ enum: PURCHASER_ID_TYPES, example: 'resident_id' })
  id_type: string;

  @ApiProperty({
    description: 'resident_id: 18 characters with a valid birth date and ISO 7064 MOD 11-2 check character',
    example: '11010519491231002X',
  })
  id_number: string;

  @ApiProperty({ description: 'Mainland mobile (11 digits, optionally after +86): the one-time codes go to it' })
  mobile: string;
}

/**
 * One recipient. Checked row by row (recipient-rows.ts) rather than by the validation pipe, so that every bad row
 * is reported with its row number, field and code (422 invalid_recipients).
 */
export class RecipientInputDto {
  @ApiProperty({ description: "The employer's reference for the employee (what HR and the audit see)", maxLength: 100 })
  employee_ref: string;

  @ApiPropertyOptional({ maxLength: 100 })
  name?: string;

  @ApiPropertyOptional({ description: 'Needed for channel email' })
  email?: string;

  @ApiPropertyOptional({
    description: 'Mainland mobile, 11 digits starting 13–19, optionally after +86; needed for sms',
  })
  mobile?: string;

  @ApiProperty({
    enum: DISTRIBUTION_CHANNELS,
    description:
      'email / sms: a message with the claim link; link: the claim URL is returned once in the creation response, ' +
      'for the ERP to deliver; account: the card is bound to holder_ref at the redemption channel channel_client_id',
  })
  channel: string;

  @ApiPropertyOptional({ description: 'Any free card of this face value (fen); or name a serial instead' })
  face_value?: number;

  @ApiPropertyOptional({ description: 'Exactly this card of the order (instead of face_value)' })
  serial?: string;

  @ApiPropertyOptional({ maxLength: GREETING_MAX, description: "Default: the order line's greeting" })
  greeting?: string;

  @ApiPropertyOptional({ enum: DISTRIBUTION_LOCALES, default: 'zh-CN' })
  locale?: string;

  @ApiPropertyOptional({ description: 'Channel account: the holder at the redemption channel' })
  holder_ref?: string;

  @ApiPropertyOptional({ description: 'Channel account: the redemption channel (its API client id)' })
  channel_client_id?: string;

  @ApiPropertyOptional({ type: RealNameInputDto, description: 'Required for registered (记名) cards' })
  real_name?: RealNameInputDto;
}

export class CreateDistributionDto {
  @ApiProperty({ description: 'An issued order of the caller’s enterprise' })
  @Matches(/^ord_[0-9A-HJKMNP-TV-Z]{26}$/, { message: 'order_id must be an order id' })
  order_id: string;

  @ApiPropertyOptional({
    type: [RecipientInputDto],
    maxItems: MAX_INLINE_RECIPIENTS,
    description: `Up to ${MAX_INLINE_RECIPIENTS} recipients inline (one card each); or upload a file and give file_id`,
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_INLINE_RECIPIENTS)
  @IsObject({ each: true })
  recipients?: Array<Record<string, unknown>>;

  @ApiPropertyOptional({ description: 'An uploaded recipient file without errors (POST /v1/distribution-files)' })
  @IsOptional()
  @Matches(/^dfl_[0-9A-HJKMNP-TV-Z]{26}$/, { message: 'file_id must be a distribution file id' })
  file_id?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'When sending starts; absent or past: now' })
  @IsOptional()
  @IsISO8601({ strict: true })
  send_at?: string;
}
