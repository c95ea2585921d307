import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { QueueDashboard } from './queue-dashboard';

/** The operator's queue dashboard (bull-board), mounted on the API's Fastify instance by src/bootstrap.ts. */
@Module({
  imports: [AuthModule],
  providers: [QueueDashboard],
  exports: [QueueDashboard],
})
export class QueueDashboardModule {}
