import { Global, Module } from '@nestjs/common';
import { MetricsServer } from './metrics-server';
import { MetricsService } from './metrics.service';

/** Global so that any module (the HTTP hook, the queue workers) can record into the one registry. */
@Global()
@Module({ providers: [MetricsService, MetricsServer], exports: [MetricsService, MetricsServer] })
export class MetricsModule {}
