import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';
import {
  DISTRIBUTION_CHANNELS,
  DISTRIBUTION_LOCALES,
  DISTRIBUTION_STATUSES,
  RECIPIENT_STATUSES,
  type Distribution,
  type DistributionRecipient,
  type DistributionStatus,
  type RecipientStatus,
} from '../distribution.entity';

const iso = (date: Date | null) => date?.toISOString() ?? null;

export class MaskedRealNameDto {
  @ApiProperty({ example: '张*' }) name: string;
  @ApiProperty({ example: 'resident_id' }) id_type: string;
  @ApiProperty({ example: '110***********002X' }) id_number: string;
  @ApiProperty({ example: '+86 138****5678' }) mobile: string;
}

/** A recipient as the API shows it: never a claim token, code or PIN; the real name masked. */
export class RecipientDto {
  @ApiProperty({ enum: ['distribution_recipient'] })
  object: 'distribution_recipient';

  @ApiProperty({ example: 'drc_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty()
  distribution_id: string;

  @ApiProperty({ description: 'The row of the request or file it came from (1-based)' })
  row_number: number;

  @ApiProperty()
  employee_ref: string;

  @ApiProperty({ type: String, nullable: true })
  name: string | null;

  @ApiProperty({ type: String, nullable: true })
  email: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'E.164 (+86…)' })
  mobile: string | null;

  @ApiProperty({ enum: DISTRIBUTION_CHANNELS })
  channel: string;

  @ApiProperty({ enum: DISTRIBUTION_LOCALES })
  locale: string;

  @ApiProperty({ type: String, nullable: true })
  greeting: string | null;

  @ApiProperty({ description: 'The card design (the order line’s)' })
  design: string;

  @ApiProperty({ description: 'fen' })
  face_value: number;

  @ApiProperty({ description: 'The card reserved for this recipient' })
  card_serial: string;

  @ApiProperty({ type: String, nullable: true })
  holder_ref: string | null;

  @ApiProperty({ type: String, nullable: true })
  channel_client_id: string | null;

  @ApiProperty({ type: MaskedRealNameDto, nullable: true, description: 'Registered cards: the holder, masked' })
  real_name: MaskedRealNameDto | null;

  @ApiProperty({ enum: RECIPIENT_STATUSES })
  status: RecipientStatus;

  @ApiProperty({ description: 'Send attempts of the current message' })
  attempts: number;

  @ApiProperty({ type: String, nullable: true })
  last_error: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  claim_expires_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  sent_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  delivered_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  viewed_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  claimed_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  bound_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revoked_at: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  static from(recipient: DistributionRecipient): RecipientDto {
    return {
      object: 'distribution_recipient',
      id: recipient.id,
      distribution_id: recipient.distributionId,
      row_number: recipient.rowNumber,
      employee_ref: recipient.employeeRef,
      name: recipient.name,
      email: recipient.email,
      mobile: recipient.mobile,
      channel: recipient.channel,
      locale: recipient.locale,
      greeting: recipient.greeting,
      design: recipient.design,
      face_value: recipient.faceValue,
      card_serial: String(recipient.cardSerial),
      holder_ref: recipient.holderRef,
      channel_client_id: recipient.channelClientId,
      real_name: (recipient.realNameMasked as MaskedRealNameDto | null) ?? null,
      status: recipient.status,
      attempts: recipient.attempts,
      last_error: recipient.lastError,
      claim_expires_at: iso(recipient.claimExpiresAt),
      sent_at: iso(recipient.sentAt),
      delivered_at: iso(recipient.deliveredAt),
      viewed_at: iso(recipient.viewedAt),
      claimed_at: iso(recipient.claimedAt),
      bound_at: iso(recipient.boundAt),
      revoked_at: iso(recipient.revokedAt),
      created_at: recipient.createdAt.toISOString(),
    };
  }
}

/** A link recipient in the creation response: its claim URL, shown this once. */
export class LinkRecipientDto extends RecipientDto {
  @ApiProperty({
    description:
      'The claim page of this card, for the ERP to hand to the employee. Shown only in this response (only its ' +
      'hash is stored); a resend issues a new URL and the old one stops working.',
    example: 'https://fuli.example/claim/3q2-7wXhV0kA6n5b1xY8cZ4mR9tL0pQeFgHjKsNuVwA',
  })
  claim_url: string;
}

export class RecipientCountsDto {
  @ApiProperty() scheduled: number;
  @ApiProperty() queued: number;
  @ApiProperty() sent: number;
  @ApiProperty() delivered: number;
  @ApiProperty() viewed: number;
  @ApiProperty() claimed: number;
  @ApiProperty() bound: number;
  @ApiProperty() failed: number;
  @ApiProperty() bounced: number;
  @ApiProperty() revoked: number;
  @ApiProperty() expired: number;
}

export interface DistributionProgress {
  counts: Partial<Record<RecipientStatus, number>>;
  sentLast5Minutes: number;
}

export class DistributionDto {
  @ApiProperty({ enum: ['distribution'] })
  object: 'distribution';

  @ApiProperty({ example: 'dst_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty()
  order_id: string;

  @ApiProperty({ enum: DISTRIBUTION_STATUSES })
  status: DistributionStatus;

  @ApiProperty({ format: 'date-time' })
  send_at: string;

  @ApiProperty({ type: String, nullable: true, description: 'The uploaded file the recipients came from' })
  file_id: string | null;

  @ApiProperty()
  recipient_count: number;

  @ApiProperty({ type: RecipientCountsDto, description: 'Recipients per status' })
  counts: RecipientCountsDto;

  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'While sending: recipients sent per minute (over the last 5 minutes)',
  })
  rate_per_minute: number | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'While sending: seconds until the recipients still waiting are sent, at that rate',
  })
  eta_seconds: number | null;

  @ApiProperty()
  created_by_client_id: string;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  started_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  completed_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  cancelled_at: string | null;

  static from(distribution: Distribution, progress: DistributionProgress): DistributionDto {
    const counts = Object.fromEntries(
      RECIPIENT_STATUSES.map((status) => [status, progress.counts[status] ?? 0]),
    ) as unknown as RecipientCountsDto;
    const sending = distribution.status === 'sending';
    const rate = sending ? Math.round((progress.sentLast5Minutes / 5) * 10) / 10 : null;
    const waiting = counts.scheduled + counts.queued;
    return {
      object: 'distribution',
      id: distribution.id,
      order_id: distribution.orderId,
      status: distribution.status,
      send_at: distribution.sendAt.toISOString(),
      file_id: distribution.fileId,
      recipient_count: distribution.recipientCount,
      counts,
      rate_per_minute: rate,
      eta_seconds: !sending ? null : waiting === 0 ? 0 : rate ? Math.ceil((waiting / rate) * 60) : null,
      created_by_client_id: distribution.createdByClientId,
      created_at: distribution.createdAt.toISOString(),
      started_at: iso(distribution.startedAt),
      completed_at: iso(distribution.completedAt),
      cancelled_at: iso(distribution.cancelledAt),
    };
  }
}

export class CreatedDistributionDto extends DistributionDto {
  @ApiProperty({
    type: [LinkRecipientDto],
    description:
      'The recipients of channel link, each with its claim_url: shown only here (a replay of the request with the ' +
      'same Idempotency-Key shows the same, stored encrypted). Empty when there are none.',
  })
  link_recipients: LinkRecipientDto[];
}

export class ListDistributionsQueryDto extends ListQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @Matches(/^ord_[0-9A-HJKMNP-TV-Z]{26}$/, { message: 'order_id must be an order id' })
  order_id?: string;

  @ApiPropertyOptional({ enum: DISTRIBUTION_STATUSES })
  @IsOptional()
  @IsIn(DISTRIBUTION_STATUSES)
  status?: DistributionStatus;
}

export class ListRecipientsQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ enum: RECIPIENT_STATUSES })
  @IsOptional()
  @IsIn(RECIPIENT_STATUSES)
  status?: RecipientStatus;
}
