import { Global, Module } from '@nestjs/common';
import { MetricsService } from './metrics.service';

/** Global so that any module (the HTTP hook, the queue workers) can record into the one registry. */
@Global()
@Module({ providers: [MetricsService], exports: [MetricsService] })
export class MetricsModule {}
