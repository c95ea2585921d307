import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';
import type { JobName, JobPayloads, QueueName } from './queue.constants';
import type { ResolvedQueueModuleOptions } from './queue.options';

export interface AddJobOptions {
  /**
   * Deduplicates: while a job with this id exists (waiting, running, or finished
   * and still retained), adding it again does nothing. Derive it from the ids of
   * the state the job acts on. Must not be an integer or contain ':'.
   */
  jobId?: string;
  /** Milliseconds before the job may run. */
  delay?: number;
  /** Total attempts, first run included. */
  attempts?: number;
  /**
   * Forget the job as soon as it completes (or finally fails), so that its jobId can be added again: for jobs
   * whose ids repeat by design and whose state lives in the database.
   */
  forgetWhenDone?: boolean;
}

export type ScheduleRepeat = { everyMs: number } | { cron: string; tz?: string };

/** The job states counts() reports, the ones worth watching. */
export const COUNTED_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

/** How long ping() waits: readiness must answer even when the backend hangs. */
const PING_TIMEOUT_MS = 3_000;

/**
 * The one way to enqueue: typed by job name, routed to the job's queue. Exists in
 * every process (API-only processes add jobs; workers run them).
 */
export class QueueService implements OnApplicationShutdown {
  private readonly logger = new Logger(QueueService.name);
  private readonly queues: ReadonlyMap<string, Queue>;

  constructor(
    private readonly options: ResolvedQueueModuleOptions,
    queues: readonly Queue[],
  ) {
    this.queues = new Map(queues.map((queue) => [queue.name, queue]));
    for (const queue of queues) {
      // Connection trouble surfaces as 'error' events; without a listener BullMQ prints them to stderr.
      queue.on('error', (err) => this.logger.warn({ msg: 'queue connection error', queue: queue.name, err }));
    }
  }

  /** Whether this process runs the workers (and so owns boot-time work such as job schedulers). */
  get isWorker(): boolean {
    return this.options.worker;
  }

  get backend(): 'postgres' | 'redis' {
    return this.options.connection.backend;
  }

  /** Enqueues a job; returns its id (the given jobId, or one BullMQ assigns). */
  async add<J extends JobName>(name: J, payload: JobPayloads[J], options: AddJobOptions = {}): Promise<string> {
    const job = await this.queueOf(name).add(name, payload, jobsOptions(options));
    // BullMQ returns the existing job when jobId is taken; its id is what callers key on either way.
    return String(job.id);
  }

  /**
   * As add, and when a job with this jobId already exists but failed for good, retries it. For relays that
   * re-enqueue unfinished work under deterministic ids: a job whose last attempt failed at a moment its failure
   * could not be recorded (the database was down) would otherwise never run again.
   */
  async addOrRetryFailed<J extends JobName>(
    name: J,
    payload: JobPayloads[J],
    options: AddJobOptions & { jobId: string },
  ): Promise<string> {
    const job = await this.queueOf(name).add(name, payload, jobsOptions(options));
    if (await job.isFailed()) await job.retry('failed');
    return String(job.id);
  }

  /** Enqueues many jobs of one name in one round trip (BullMQ addBulk); same options semantics as add. */
  async addBulk<J extends JobName>(
    name: J,
    jobs: ReadonlyArray<{ payload: JobPayloads[J]; options?: AddJobOptions }>,
  ): Promise<void> {
    if (jobs.length === 0) return;
    await this.queueOf(name).addBulk(
      jobs.map((job) => ({ name, data: job.payload, opts: jobsOptions(job.options ?? {}) })),
    );
  }

  /**
   * Creates or updates a repeatable job: BullMQ 6 has no `repeat` on add. The
   * scheduler id is its identity, so calling this at every boot is safe.
   */
  async upsertScheduler<J extends JobName>(
    schedulerId: string,
    name: J,
    payload: JobPayloads[J],
    repeat: ScheduleRepeat,
  ): Promise<void> {
    const repeatOpts = 'everyMs' in repeat ? { every: repeat.everyMs } : { pattern: repeat.cron, tz: repeat.tz };
    await this.queueOf(name).upsertJobScheduler(schedulerId, repeatOpts, { name, data: payload });
  }

  /** Jobs per state on every queue, e.g. `{ maintenance: { waiting: 0, active: 1, … } }`. */
  async counts(): Promise<Record<QueueName, Record<string, number>>> {
    const entries = await Promise.all(
      [...this.queues.values()].map(
        async (queue) => [queue.name, await queue.getJobCounts(...COUNTED_STATES)] as const,
      ),
    );
    return Object.fromEntries(entries) as Record<QueueName, Record<string, number>>;
  }

  /** Resolves when the queue backend answers; rejects (within a few seconds) when it does not. */
  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.backend} queue backend did not answer within ${PING_TIMEOUT_MS} ms`)),
        PING_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.options.connection.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every BullMQ queue of the process, by name (the queue dashboard shows them). */
  all(): Queue[] {
    return [...this.queues.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The BullMQ queue of one queue name, for what this service does not wrap (inspecting a job by id). */
  queue(name: QueueName): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`Queue "${name}" is not registered`);
    return queue;
  }

  /**
   * Runs after every beforeApplicationShutdown hook, so the workers have drained
   * (QueueWorkerService) and no producer is left: close the queues, then the
   * shared connection they used. @nestjs/bullmq closes the queues again later;
   * Queue.close() is idempotent.
   */
  async onApplicationShutdown(): Promise<void> {
    const results = await Promise.allSettled([...this.queues.values()].map((queue) => queue.close()));
    for (const result of results) {
      if (result.status === 'rejected')
        this.logger.error({ msg: 'closing a queue failed', err: result.reason as unknown });
    }
    await this.options.connection.close();
  }

  private queueOf(job: JobName): Queue {
    const queueName = this.options.catalog.jobs[job];
    const queue = queueName === undefined ? undefined : this.queues.get(queueName);
    if (!queue) throw new Error(`Job "${job}" has no queue in the job catalog`);
    return queue;
  }
}

function jobsOptions(options: AddJobOptions): JobsOptions {
  const opts: JobsOptions = {};
  if (options.jobId !== undefined) opts.jobId = options.jobId;
  if (options.delay !== undefined) opts.delay = options.delay;
  if (options.attempts !== undefined) opts.attempts = options.attempts;
  if (options.forgetWhenDone) {
    opts.removeOnComplete = true;
    opts.removeOnFail = true;
  }
  return opts;
}
