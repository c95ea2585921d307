import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { AuditModule } from '../audit/audit.module';
import { CryptoModule } from '../common/crypto/crypto.module';
import { EventsModule } from '../events/events.module';
import { EventRedeliveryController } from './event-redelivery.controller';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookEndpointsController } from './webhook-endpoints.controller';
import { WebhookEndpointsService } from './webhook-endpoints.service';
import { WebhookMetrics } from './webhook-metrics';
import { WebhookSender } from './webhook-sender';
import { WebhookUrlPolicy } from './webhook-url.policy';
import { WebhooksRepository } from './webhooks.repository';

/**
 * Delivery of the event outbox to webhook endpoints: the endpoints API, the relay loop and the `deliver-webhooks`
 * / `sweep-webhook-deliveries` jobs. Import it in every process: the relay and the handlers run only where
 * QueueModule has `worker: true`.
 */
@Module({
  imports: [EventsModule, IdempotencyModule, AuditModule, CryptoModule],
  controllers: [WebhookEndpointsController, EventRedeliveryController],
  providers: [
    WebhookDeliveryService,
    WebhookEndpointsService,
    WebhookMetrics,
    WebhookSender,
    WebhookUrlPolicy,
    WebhooksRepository,
  ],
  // The repository for key rotation's walk over the endpoints' sealed secrets (src/data-keys/).
  exports: [WebhooksRepository],
})
export class WebhooksModule {}
