import { Module } from '@nestjs/common';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';

/**
 * The event outbox every module writes (EventsService) and the tenant's event API. Delivery to webhook endpoints
 * is WebhooksModule's. Imported by every module that records events.
 */
@Module({
  controllers: [EventsController],
  providers: [EventsService, EventsRepository],
  exports: [EventsService, EventsRepository],
})
export class EventsModule {}
