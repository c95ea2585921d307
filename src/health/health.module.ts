import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { HealthRepository } from './health.repository';
import { MetricsModule } from '../metrics/metrics.module';

/**
 * GET /health/live and GET /health/ready (GET /metrics has a listener of its own: MetricsServer). Needs the
 * database module's TransactionalConnection; uses QueueService when the QueueModule is loaded. Brings the
 * global MetricsModule, so importing this module is enough for MetricsService.
 */
@Module({
  imports: [TerminusModule.forRoot(), MetricsModule],
  controllers: [HealthController],
  providers: [HealthRepository],
})
export class HealthModule {}
