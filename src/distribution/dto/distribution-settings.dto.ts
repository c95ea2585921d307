import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Length, Max, Min, ValidateIf } from 'class-validator';
import type { DistributionSettings } from '../distribution.entity';

export const CLAIM_LINK_TTL_DAYS = { min: 1, max: 90, default: 30 } as const;

export class DistributionSettingsDto {
  @ApiProperty({ enum: ['distribution_settings'] })
  object: 'distribution_settings';

  @ApiProperty({
    type: String,
    nullable: true,
    description: "The sender named in e-mails and on the claim page; null: the enterprise's name",
  })
  from_name: string | null;

  @ApiProperty({
    description:
      'Put the code and PIN of anonymous cards in the e-mail or SMS itself (registered cards never: their codes ' +
      'are revealed on the claim page after a one-time code). Off by default.',
  })
  code_in_message: boolean;

  @ApiProperty({ minimum: CLAIM_LINK_TTL_DAYS.min, maximum: CLAIM_LINK_TTL_DAYS.max, default: 30 })
  claim_link_ttl_days: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'null: the defaults, never set' })
  updated_at: string | null;

  static from(settings: DistributionSettings | null): DistributionSettingsDto {
    return {
      object: 'distribution_settings',
      from_name: settings?.fromName ?? null,
      code_in_message: settings?.codeInMessage ?? false,
      claim_link_ttl_days: settings?.claimLinkTtlDays ?? CLAIM_LINK_TTL_DAYS.default,
      updated_at: settings?.updatedAt.toISOString() ?? null,
    };
  }
}

const trimmed = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

/** The whole settings (PUT): a field left out takes its default. */
export class UpdateDistributionSettingsDto {
  @ApiProperty({ type: String, nullable: true, required: false, maxLength: 100 })
  @IsOptional()
  @Transform(trimmed)
  @ValidateIf((_, value) => value !== null)
  @IsString()
  @Length(1, 100)
  from_name?: string | null;

  @ApiProperty({ required: false, default: false })
  @IsOptional()
  @IsBoolean()
  code_in_message?: boolean;

  @ApiProperty({ required: false, minimum: CLAIM_LINK_TTL_DAYS.min, maximum: CLAIM_LINK_TTL_DAYS.max, default: 30 })
  @IsOptional()
  @IsInt()
  @Min(CLAIM_LINK_TTL_DAYS.min)
  @Max(CLAIM_LINK_TTL_DAYS.max)
  claim_link_ttl_days?: number;
}
