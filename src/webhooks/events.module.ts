import { Global, Module } from '@nestjs/common';
import { EventsService } from './events.service';

/** The event outbox; delivery to webhook endpoints is built on it. */
@Global()
@Module({ providers: [EventsService], exports: [EventsService] })
export class EventsModule {}
