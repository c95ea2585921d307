import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { MetricsModule } from './metrics.module';

/**
 * GET /health/live and GET /health/ready (GET /metrics has a listener of its own: MetricsServer). Needs the TypeORM
 * DataSource; uses QueueService when the QueueModule is loaded. Brings the
 * global MetricsModule, so importing this module is enough for MetricsService.
 */
@Module({
  imports: [TerminusModule.forRoot(), MetricsModule],
  controllers: [HealthController],
})
export class HealthModule {}
