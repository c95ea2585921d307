import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { MetricsModule } from './metrics.module';

/**
 * GET /health/live, GET /health/ready and GET /metrics. Needs the TypeORM
 * DataSource; uses QueueService when the QueueModule is loaded. Brings the
 * global MetricsModule, so importing this module is enough for MetricsService.
 */
@Module({
  imports: [TerminusModule.forRoot(), MetricsModule],
  controllers: [HealthController, MetricsController],
})
export class HealthModule {}
