import { Module } from '@nestjs/common';
import { IdempotencyPurgeJob } from '../common/idempotency/idempotency-purge.job';

/**
 * Housekeeping jobs of the `maintenance` queue. Import it in every process:
 * handlers only run where QueueModule has `worker: true`, and a worker refuses to
 * boot without them. Needs the TypeORM DataSource and the global QueueModule.
 */
@Module({ providers: [IdempotencyPurgeJob] })
export class MaintenanceModule {}
