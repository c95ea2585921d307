import type { DefaultJobOptions } from 'bullmq';
import type { QueueConnection } from './queue-backend';
import type { JobCatalog } from './queue.constants';

export interface QueueModuleOptions {
  /** From prepareQueueBackend, called before the Nest application is created. */
  connection: QueueConnection;
  /** Run a Worker per queue in this process (worker.ts, or both roles in one process). */
  worker: boolean;
  /** Jobs and queues served; the production catalog unless a test supplies its own. */
  catalog?: JobCatalog;
}

export interface ResolvedQueueModuleOptions extends QueueModuleOptions {
  catalog: JobCatalog;
}

export const QUEUE_MODULE_OPTIONS = Symbol('QUEUE_MODULE_OPTIONS');

/**
 * Applied to every job unless QueueService.add overrides them. Retries back off
 * 1 s, 2 s, 4 s, 8 s. Finished jobs are kept a while for inspection and so that
 * a re-add with the same jobId within that window is still a no-op.
 */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 14 * 24 * 3600, count: 10_000 },
} as const satisfies DefaultJobOptions;
