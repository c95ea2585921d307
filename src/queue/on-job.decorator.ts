import { SetMetadata } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { JobName, JobPayloads } from './queue.constants';

export const ON_JOB_METADATA = 'fuli:on-job';

/** What a handler receives besides its payload: the BullMQ job (id, attemptsMade, timestamps). */
export type JobContext = Job;

export type JobHandlerMethod<J extends JobName> = (payload: JobPayloads[J], job: JobContext) => Promise<unknown>;

/**
 * Marks a method of an ordinary singleton provider as THE handler of one job.
 * In a worker process the QueueModule finds it at boot and runs it for every job
 * of that name; boot fails when a job has no handler or more than one.
 *
 * Contract: handlers are idempotent. BullMQ delivers at least once (a retry after
 * a failure or a crash mid-job, a stalled job taken over by another worker), so
 * running a job twice must leave the same state as running it once: read state
 * from the database, make the change conditional on it, key side effects by the
 * job's ids. Throw to fail the attempt (it is retried with backoff); throw
 * bullmq's UnrecoverableError to fail without retrying.
 */
export function OnJob<J extends JobName>(name: J) {
  return <M extends JobHandlerMethod<J>>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    SetMetadata(ON_JOB_METADATA, name)(target, key, descriptor);
  };
}
