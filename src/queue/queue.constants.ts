/** Every BullMQ queue of the service. A queue groups jobs that share a worker and its concurrency. */
export enum QueueName {
  Maintenance = 'maintenance',
}

/** Every job the service runs. Each has exactly one @OnJob handler and one queue (JOB_QUEUE). */
export enum JobName {
  PurgeIdempotencyKeys = 'purge-idempotency-keys',
}

/** The payload of each job: QueueService.add and @OnJob handlers are typed by it. Keep payloads JSON and small (ids, not rows). */
export interface JobPayloads {
  [JobName.PurgeIdempotencyKeys]: { olderThanHours: number };
}

/** Which queue each job runs on. */
export const JOB_QUEUE: Record<JobName, QueueName> = {
  [JobName.PurgeIdempotencyKeys]: QueueName.Maintenance,
};

/** Jobs one worker process runs at once on each queue. */
export const QUEUE_CONCURRENCY: Record<QueueName, number> = {
  [QueueName.Maintenance]: 1,
};

/**
 * The set of jobs and queues a QueueModule serves. Production uses
 * DEFAULT_JOB_CATALOG; tests pass their own so that test-only jobs never
 * appear in the production enums.
 */
export interface JobCatalog {
  /** Job name to queue name. */
  readonly jobs: Readonly<Record<string, string>>;
  /** Queue name to worker concurrency; 1 when absent. */
  readonly concurrency?: Readonly<Record<string, number>>;
}

export const DEFAULT_JOB_CATALOG: JobCatalog = { jobs: JOB_QUEUE, concurrency: QUEUE_CONCURRENCY };

/** The distinct queues of a catalog, in a stable order. */
export function catalogQueues(catalog: JobCatalog): string[] {
  return [...new Set(Object.values(catalog.jobs))].sort();
}
