import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { idPattern } from '../../common/ids';
import { OmittableNotNull } from '../../enterprises/dto/fields';
import { ListQueryDto } from '../../common/pagination/pagination';
import type { WebhookAttempt, WebhookDelivery, WebhookEndpoint } from '../webhook.entity';
import { MAX_URL_LENGTH } from '../webhook-url.policy';

const EVENT_TYPE_EXAMPLE = ['order.paid', 'order.issued'];
const iso = (date: Date | null) => date?.toISOString() ?? null;

export class CreateWebhookEndpointDto {
  @ApiProperty({
    description: 'Where events are POSTed: https, on a public address (private networks are refused)',
    example: 'https://erp.example.com/fuli/webhooks',
    maxLength: MAX_URL_LENGTH,
  })
  @IsString()
  @Length(1, MAX_URL_LENGTH)
  url: string;

  @ApiPropertyOptional({ maxLength: 500, example: 'SAP gift-card module, production' })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  description?: string;

  @ApiProperty({
    description: 'Event types to receive, or `["*"]` for all (see the event catalog in the README)',
    example: EVENT_TYPE_EXAMPLE,
    type: [String],
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  event_types: string[];

  @ApiPropertyOptional({ default: true, description: 'false registers the endpoint disabled' })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class UpdateWebhookEndpointDto {
  @ApiPropertyOptional({ maxLength: MAX_URL_LENGTH })
  @IsOptional()
  @IsString()
  @Length(1, MAX_URL_LENGTH)
  url?: string;

  @ApiPropertyOptional({ maxLength: 500, nullable: true })
  @IsOptional()
  @IsString()
  @Length(0, 500)
  description?: string;

  @ApiPropertyOptional({ type: [String], example: EVENT_TYPE_EXAMPLE })
  @OmittableNotNull()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  event_types?: string[];

  @ApiPropertyOptional({
    description: 'false disables the endpoint; true re-enables one (also one the service disabled)',
  })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class RotateWebhookSecretDto {
  @ApiPropertyOptional({
    description: 'Seconds the current secret keeps signing beside the new one (0 drops it now)',
    default: 86_400,
    maximum: 604_800,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(604_800)
  previous_secret_expires_in?: number;
}

export class RecoverWebhookEndpointDto {
  @ApiProperty({
    format: 'date-time',
    description: 'Replay every delivery to this endpoint that failed for good and was created at or after this time',
  })
  @IsISO8601({ strict: true })
  since: string;
}

export class RedeliverEventDto {
  @ApiPropertyOptional({
    description: 'Redeliver to this endpoint only; by default to every enabled endpoint subscribed to the type',
  })
  @IsOptional()
  @Matches(idPattern('webhookEndpoint'), { message: 'endpoint_id must be a webhook endpoint id' })
  endpoint_id?: string;
}

export class ListAttemptsQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ description: 'Attempts to deliver this event only' })
  @IsOptional()
  @Matches(idPattern('event'), { message: 'event_id must be an event id' })
  event_id?: string;

  @ApiPropertyOptional({ description: 'true: successes only; false: failures only' })
  @IsOptional()
  @IsIn(['true', 'false'])
  succeeded?: 'true' | 'false';
}

export class WebhookEndpointDto {
  @ApiProperty({ enum: ['webhook_endpoint'] })
  object: 'webhook_endpoint';

  @ApiProperty({ example: 'whe_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty()
  url: string;

  @ApiProperty({ type: String, nullable: true })
  description: string | null;

  @ApiProperty({ type: [String], example: EVENT_TYPE_EXAMPLE })
  event_types: string[];

  @ApiProperty({ enum: ['enabled', 'disabled'] })
  status: 'enabled' | 'disabled';

  @ApiProperty({
    enum: ['by_client', 'gone', 'failing'],
    nullable: true,
    description: 'by_client: disabled through the API; gone: it answered 410; failing: no success for 5 days',
  })
  disabled_reason: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Until then the secret before the last rotation also signs every delivery',
  })
  previous_secret_expires_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  last_success_at: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'First failure since the last success; null while healthy',
  })
  failing_since: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ format: 'date-time' })
  updated_at: string;

  static from(endpoint: WebhookEndpoint): WebhookEndpointDto {
    const previousActive =
      endpoint.previousSecretExpiresAt !== null && endpoint.previousSecretExpiresAt.getTime() > Date.now();
    return {
      object: 'webhook_endpoint',
      id: endpoint.id,
      url: endpoint.url,
      description: endpoint.description,
      event_types: endpoint.eventTypes,
      status: endpoint.status,
      disabled_reason: endpoint.disabledReason,
      previous_secret_expires_at: previousActive ? iso(endpoint.previousSecretExpiresAt) : null,
      last_success_at: iso(endpoint.lastSuccessAt),
      failing_since: iso(endpoint.failingSince),
      created_at: endpoint.createdAt.toISOString(),
      updated_at: endpoint.updatedAt.toISOString(),
    };
  }
}

export class WebhookEndpointWithSecretDto extends WebhookEndpointDto {
  @ApiProperty({
    description: 'The signing secret (`whsec_…`), shown only in this response: store it now',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  })
  secret: string;
}

export class DeletedWebhookEndpointDto {
  @ApiProperty({ enum: ['webhook_endpoint'] })
  object: 'webhook_endpoint';

  @ApiProperty()
  id: string;

  @ApiProperty({ enum: [true] })
  deleted: true;
}

export class WebhookDeliveryDto {
  @ApiProperty({ enum: ['webhook_delivery'] })
  object: 'webhook_delivery';

  @ApiProperty({ example: 'whd_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty()
  event_id: string;

  @ApiProperty()
  endpoint_id: string;

  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] })
  status: string;

  @ApiProperty({ description: 'Attempts made so far' })
  attempts: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  next_attempt_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  delivered_at: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'retries_exhausted, endpoint_disabled or endpoint_deleted once it failed for good',
  })
  failure_reason: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  static from(delivery: WebhookDelivery): WebhookDeliveryDto {
    return {
      object: 'webhook_delivery',
      id: delivery.id,
      event_id: delivery.eventId,
      endpoint_id: delivery.endpointId,
      status: delivery.status,
      attempts: delivery.attempts,
      next_attempt_at: iso(delivery.nextAttemptAt),
      delivered_at: iso(delivery.deliveredAt),
      failure_reason: delivery.failureReason,
      created_at: delivery.createdAt.toISOString(),
    };
  }
}

export class RedeliveryDto {
  @ApiProperty({ enum: ['list'] })
  object: 'list';

  @ApiProperty({ type: [WebhookDeliveryDto], description: 'The deliveries scheduled again, one per endpoint' })
  data: WebhookDeliveryDto[];
}

export class WebhookAttemptDto {
  @ApiProperty({ enum: ['webhook_attempt'] })
  object: 'webhook_attempt';

  @ApiProperty({ example: 'wha_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty()
  delivery_id: string;

  @ApiProperty()
  endpoint_id: string;

  @ApiProperty()
  event_id: string;

  @ApiProperty({ description: '1 for the first attempt of the delivery' })
  attempt: number;

  @ApiProperty({ description: 'The receiver answered 2xx' })
  succeeded: boolean;

  @ApiProperty({ type: Number, nullable: true, description: 'HTTP status; null when no response came' })
  response_status: number | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'The first 1 KB of the response body; null when no response came, or when the receiver is on a private network (its answer is not shown)',
  })
  response_body: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    enum: ['timeout', 'connection_failed', 'address_blocked'],
    description: 'Why no response came',
  })
  error: string | null;

  @ApiProperty({ description: 'From sending the request to the end of the response' })
  latency_ms: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the next attempt is due' })
  next_attempt_at: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  static from(attempt: WebhookAttempt): WebhookAttemptDto {
    return {
      object: 'webhook_attempt',
      id: attempt.id,
      delivery_id: attempt.deliveryId,
      endpoint_id: attempt.endpointId,
      event_id: attempt.eventId,
      attempt: attempt.attemptNo,
      succeeded: attempt.succeeded,
      response_status: attempt.responseStatus,
      response_body: attempt.responseBody,
      error: attempt.error,
      latency_ms: attempt.latencyMs,
      next_attempt_at: iso(attempt.nextAttemptAt),
      created_at: attempt.createdAt.toISOString(),
    };
  }
}

export class WebhookRecoveryDto {
  @ApiProperty({ enum: ['webhook_recovery'] })
  object: 'webhook_recovery';

  @ApiProperty()
  endpoint_id: string;

  @ApiProperty({ format: 'date-time' })
  since: string;

  @ApiProperty({ description: 'Failed deliveries scheduled again' })
  deliveries_requeued: number;
}
