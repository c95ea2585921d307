import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches } from 'class-validator';
import type { CardStatus } from '../../cards/card.entity';
import { CARD_STATUSES } from '../../cards/card.entity';

/** The claim page's reveal: a registered card's SMS one-time code. */
export class ClaimRevealDto {
  @IsOptional()
  @IsString()
  @Length(1, 12)
  otp?: string;
}

/** The claim page's "add to my account": which redemption channel. */
export class ClaimBindTicketRequestDto {
  @IsString()
  @Length(1, 64)
  channel: string;
}

/** A redemption channel redeems a claim ticket for its holder. */
export class RedeemClaimTicketDto {
  @ApiProperty({ description: "The employee's account at this channel", example: 'user-8843' })
  @Matches(/^[\x21-\x7e]{1,128}$/, { message: 'holder_ref must be 1 to 128 visible ASCII characters' })
  holder_ref: string;
}

export class ClaimBindDto {
  @ApiProperty({ enum: ['claim_bind'] })
  object: 'claim_bind';

  @ApiProperty({ example: '100000000000017' })
  serial: string;

  @ApiProperty({ example: 'user-8843' })
  holder_ref: string;

  @ApiProperty({ description: 'Fen', example: 10000 })
  face_value: number;

  @ApiProperty({ description: 'Fen', example: 10000 })
  balance: number;

  @ApiProperty({ enum: CARD_STATUSES, example: 'active' })
  status: CardStatus;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expires_at: string | null;
}
