import { Global, Module } from '@nestjs/common';
import { EventsController } from './events.controller';
import { EventsService } from './events.service';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookEndpointsController } from './webhook-endpoints.controller';
import { WebhookEndpointsService } from './webhook-endpoints.service';
import { WebhookMetrics } from './webhook-metrics';
import { WebhookSender } from './webhook-sender';
import { WebhookUrlPolicy } from './webhook-url.policy';

/**
 * The event outbox every module writes (EventsService, global) and its delivery to webhook endpoints: the API,
 * the relay loop and the `deliver-webhook` / `sweep-webhook-deliveries` jobs. Import it in every process: the relay
 * and the handlers run only where QueueModule has `worker: true`.
 */
@Global()
@Module({
  controllers: [WebhookEndpointsController, EventsController],
  providers: [
    EventsService,
    WebhookDeliveryService,
    WebhookEndpointsService,
    WebhookMetrics,
    WebhookSender,
    WebhookUrlPolicy,
  ],
  exports: [EventsService],
})
export class EventsModule {}
