import { Module } from '@nestjs/common';
import { IdempotencyPurgeJob } from '../common/idempotency/idempotency-purge.job';
import { IdempotencyModule } from '../common/idempotency/idempotency.module';

/**
 * Housekeeping jobs of the `maintenance` queue. Import it in every process:
 * handlers only run where QueueModule has `worker: true`, and a worker refuses to
 * boot without them. Needs the database and the global QueueModule.
 */
@Module({ imports: [IdempotencyModule], providers: [IdempotencyPurgeJob] })
export class MaintenanceModule {}
