import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsIn, Matches, MaxLength, ValidateIf } from 'class-validator';

/** Absent is fine; null is not (a recipient's channel needs its contact). */
const unlessAbsent = () => ValidateIf((_object: unknown, value: unknown) => value !== undefined);
import { RECIPIENT_STATUSES, type DistributionChannel, type RecipientStatus } from '../distribution.entity';

/** The channels a recipient's contact may be changed to (`account` is a binding, not a contact). */
export const CONTACT_CHANNELS = ['email', 'sms', 'link'] as const;

export class ChangeRecipientContactDto {
  @ApiPropertyOptional({ maxLength: 254, example: 'li.lei@example.com' })
  @unlessAbsent()
  @IsEmail({}, { message: 'email must be an e-mail address' })
  @MaxLength(254)
  email?: string;

  @ApiPropertyOptional({ description: 'Mainland mobile in E.164', example: '+8613812345678' })
  @unlessAbsent()
  @Matches(/^\+861[3-9]\d{9}$/, { message: 'mobile must be a mainland mobile in E.164 (+86…)' })
  mobile?: string;

  @ApiPropertyOptional({ enum: CONTACT_CHANNELS, description: 'Send by this channel from now on' })
  @unlessAbsent()
  @IsIn(CONTACT_CHANNELS)
  channel?: (typeof CONTACT_CHANNELS)[number];
}

/** A recipient after a resend, a contact change or a revocation. */
export class RecipientControlDto {
  @ApiProperty({ enum: ['distribution_recipient'] })
  object: 'distribution_recipient';

  @ApiProperty({ example: 'drc_01J…' })
  id: string;

  @ApiProperty({ example: 'dst_01J…' })
  distribution_id: string;

  @ApiProperty({ enum: RECIPIENT_STATUSES })
  status: RecipientStatus;

  @ApiProperty({ enum: ['email', 'sms', 'link', 'account'] })
  channel: DistributionChannel;

  @ApiPropertyOptional({
    description:
      'Channel `link` only, after a resend or a contact change: the new claim URL for the ERP to deliver. Shown ' +
      'here once; only its hash is kept. The previous link no longer opens.',
    example: 'https://fuli.example/claim/AbC…',
  })
  claim_url?: string;
}

export class DistributionCancelledDto {
  @ApiProperty({ enum: ['distribution'] })
  object: 'distribution';

  @ApiProperty({ example: 'dst_01J…' })
  id: string;

  @ApiProperty({ enum: ['cancelled'] })
  status: 'cancelled';

  @ApiProperty({ description: 'Recipients revoked (their cards are back in the pool)', example: 120 })
  revoked: number;
}
