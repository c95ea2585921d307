import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsIn,
  IsIP,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { IsFenAmount } from '../../common/validation-codes';
import type { CardStatus } from '../../cards/card.entity';
import { PURCHASER_ID_TYPES, normaliseIdNumber, type PurchaserIdType } from '../../orders/purchaser-identity';

/** The channel's references and holder accounts: visible ASCII, no spaces (they appear in events and ERPs). */
const TOKEN = /^[\x21-\x7e]{1,128}$/;
const TOKEN_MESSAGE = (field: string) => `${field} must be 1 to 128 visible ASCII characters`;
/** Largest single debit: 50,000 CNY (no card holds more than 5,000 CNY; a holder may spend several). */
export const MAX_DEBIT_FEN = 5_000_000;

const trimmed = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

/**
 * The end user a channel acts for, as the channel knows them: failed attempts are also counted per end user (per
 * channel), so that one user guessing is locked out without shutting out the channel's other users.
 */
export class EndUserDto {
  @ApiPropertyOptional({
    description: "The end user's IP address as the channel saw it (wins over the X-End-User-IP header)",
    example: '203.0.113.7',
  })
  @IsOptional()
  @IsIP(undefined, { message: 'end_user.ip must be an IPv4 or IPv6 address' })
  ip?: string;

  @ApiPropertyOptional({ description: "The channel's id of the end user's device or app install", example: 'dev-5f2a' })
  @IsOptional()
  @Matches(TOKEN, { message: TOKEN_MESSAGE('end_user.device_id') })
  device_id?: string;
}

export class VerifyCardDto {
  @ApiProperty({
    description: 'The 16-character card code, in any case, with or without separators',
    example: 'K7QD-9XMA-2HJR-5WPT',
  })
  @IsString()
  @MaxLength(64)
  code: string;

  @ApiPropertyOptional({ type: EndUserDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => EndUserDto)
  end_user?: EndUserDto;
}

export class HolderIdentityDto {
  @ApiProperty({ description: 'Full name as on the identity document', example: '张三' })
  @Transform(trimmed)
  @IsString()
  @MinLength(1)
  @MaxLength(50)
  name: string;

  @ApiProperty({ enum: PURCHASER_ID_TYPES, example: 'resident_id' })
  @IsIn(PURCHASER_ID_TYPES)
  id_type: PurchaserIdType;

  @ApiProperty({ description: 'Identity document number', example: '11010519491231002X' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? normaliseIdNumber(value) : value))
  @IsString()
  @MinLength(5)
  @MaxLength(20)
  id_number: string;
}

export class BindCardDto {
  @ApiProperty({ description: 'The 16-character card code', example: 'K7QD-9XMA-2HJR-5WPT' })
  @IsString()
  @MaxLength(64)
  code: string;

  @ApiProperty({ description: 'The 6-digit PIN', example: '123456' })
  @IsString()
  @Matches(/^\d{6}$/, { message: 'pin must be 6 digits' })
  pin: string;

  @ApiProperty({ description: "The holder's account at the channel", example: 'user-8843' })
  @Matches(TOKEN, { message: TOKEN_MESSAGE('holder_ref') })
  holder_ref: string;

  @ApiPropertyOptional({
    type: HolderIdentityDto,
    description: 'Required for registered (记名) cards: must match the real-name data on record',
  })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => HolderIdentityDto)
  holder_identity?: HolderIdentityDto;

  @ApiProperty({ description: "The channel's unique reference of this request: a retry with it is answered again" })
  @Matches(TOKEN, { message: TOKEN_MESSAGE('reference') })
  reference: string;

  @ApiPropertyOptional({ type: EndUserDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => EndUserDto)
  end_user?: EndUserDto;
}

export class DebitDto {
  @ApiPropertyOptional({
    description: "The card to spend (bound by this channel to holder_ref); or leave it out to spend the holder's cards",
  })
  @IsOptional()
  @Matches(/^\d{2,20}$/, { message: 'serial must be a card serial (digits)' })
  serial?: string;

  @ApiPropertyOptional({
    description:
      "The holder's account at this channel: without serial, spends from the holder's active cards, soonest expiry first; with serial, the card must be bound to it. Required unless payment_code is given",
  })
  @ValidateIf((dto: DebitDto) => dto.payment_code === undefined || dto.holder_ref !== undefined)
  @Matches(TOKEN, { message: TOKEN_MESSAGE('holder_ref') })
  holder_ref?: string;

  @ApiPropertyOptional({
    description:
      "A dynamic payment code (18 digits, as scanned from the holder's screen) instead of serial and holder_ref: it names its card or wallet, and is spent with the debit",
    example: '681234567890123456',
  })
  @IsOptional()
  @Matches(/^\d{18}$/, { message: 'payment_code must be 18 digits' })
  payment_code?: string;

  @ApiProperty({ description: 'fen', minimum: 1, maximum: MAX_DEBIT_FEN })
  @IsFenAmount({ max: MAX_DEBIT_FEN })
  amount: number;

  @ApiProperty({ description: "The channel's unique reference (e.g. its order number)" })
  @Matches(TOKEN, { message: TOKEN_MESSAGE('reference') })
  reference: string;

  @ApiPropertyOptional({
    type: EndUserDto,
    description:
      "The end user paying (the POS's customer, the app's user), as the channel saw them: the IP is recorded on the card's movement and counted by the IP fraud rules",
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => EndUserDto)
  end_user?: EndUserDto;
}

export class PaymentCodeRequestDto {
  @ApiPropertyOptional({
    description:
      "A card this channel bound to holder_ref: the code spends that card. Leave it out for the holder's wallet (the holder's active cards, soonest expiry first)",
  })
  @IsOptional()
  @Matches(/^\d{2,20}$/, { message: 'serial must be a card serial (digits)' })
  serial?: string;

  @ApiProperty({ description: "The holder's account at this channel" })
  @Matches(TOKEN, { message: TOKEN_MESSAGE('holder_ref') })
  holder_ref: string;
}

export class PaymentCodeDto {
  @ApiProperty({ enum: ['payment_code'] }) object: 'payment_code';
  @ApiProperty({
    description:
      'The 18-digit code for the POS to scan (or type): single use; a secret while it is valid, so never logged',
    example: '681234567890123456',
  })
  code: string;
  @ApiProperty({ description: 'The text to encode as a QR code for scanners (the code itself)' })
  qr_payload: string;
  @ApiProperty({ type: String, nullable: true, description: "The card's serial; null for the holder's wallet" })
  serial: string | null;
  @ApiProperty() holder_ref: string;
  @ApiProperty({ description: 'Seconds of a window (PAYMENT_CODE_WINDOW_SECONDS)' }) window_seconds: number;
  @ApiProperty({
    format: 'date-time',
    description: "End of the code's window: refresh then. Scanned in the next window it is still accepted (skew)",
  })
  refresh_at: string;
  @ApiProperty({ format: 'date-time', description: 'After this the code is refused (payment_code_expired)' })
  expires_at: string;
}

export class ReverseDto {
  @ApiPropertyOptional({ description: 'fen; default: all of the debit not reversed yet', minimum: 1 })
  @IsOptional()
  @IsFenAmount({ max: MAX_DEBIT_FEN })
  amount?: number;

  @ApiProperty({ description: "The channel's unique reference of this reversal" })
  @Matches(TOKEN, { message: TOKEN_MESSAGE('reference') })
  reference: string;
}

export class CardVerificationDto {
  @ApiProperty({ enum: ['card_verification'] }) object: 'card_verification';
  @ApiProperty() serial: string;
  @ApiProperty({ enum: ['anonymous', 'registered'] }) card_type: 'anonymous' | 'registered';
  @ApiProperty() status: CardStatus;
  @ApiProperty({ description: 'fen' }) face_value: number;
  @ApiProperty({ description: 'fen' }) balance: number;
  @ApiProperty({ enum: ['CNY'] }) currency: 'CNY';
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) expires_at: string | null;
  @ApiProperty({ description: 'Whether the card is bound to a holder' }) bound: boolean;
}

export class RedemptionCardDto {
  @ApiProperty() serial: string;
  @ApiProperty({ description: 'Signed change of this card’s balance, fen' }) amount: number;
  @ApiProperty({ description: 'fen' }) balance_after: number;
  @ApiProperty() status: CardStatus;
}

export class RedemptionDto {
  @ApiProperty({ enum: ['redemption'] }) object: 'redemption';
  @ApiProperty({ example: 'rdm_01JD3Q0X5V6T8W9Y2Z3A4B5C6D' }) id: string;
  @ApiProperty({ enum: ['bind', 'debit', 'reverse'] }) kind: 'bind' | 'debit' | 'reverse';
  @ApiProperty() reference: string;
  @ApiProperty({ type: String, nullable: true }) holder_ref: string | null;
  @ApiProperty({ description: 'fen: debited or given back; 0 for a bind' }) amount: number;
  @ApiProperty({ description: 'Debits: fen given back by reversals so far' }) reversed_amount: number;
  @ApiProperty({ type: String, nullable: true, description: 'Reversals: the debit reversed' })
  reverses_id: string | null;
  @ApiProperty({ type: [RedemptionCardDto] }) cards: RedemptionCardDto[];
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

// Card transactions are the cards module's; the channel lists them with the same shapes.
export {
  CardTransactionDto,
  CardTransactionPageDto,
  ListCardTransactionsQueryDto,
} from '../../cards/dto/card-transaction.dto';
