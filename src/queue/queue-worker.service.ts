import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { MetricsService } from '../metrics/metrics.service';
import { JobHandlersService } from './job-handlers.service';
import { catalogQueues } from './queue.constants';
import { QUEUE_MODULE_OPTIONS, type ResolvedQueueModuleOptions } from './queue.options';

/**
 * Worker processes only: runs one BullMQ Worker per queue that dispatches each job
 * by name to its @OnJob handler (JobHandlersService), and drains those workers
 * first on shutdown.
 */
@Injectable()
export class QueueWorkerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(QueueWorkerService.name);
  private readonly workers: Worker[] = [];

  constructor(
    @Inject(QUEUE_MODULE_OPTIONS) private readonly options: ResolvedQueueModuleOptions,
    private readonly handlers: JobHandlersService,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  /** Start consuming only once the whole application has initialised. */
  async onApplicationBootstrap(): Promise<void> {
    const { connection } = this.options;
    for (const queue of catalogQueues(this.options.catalog)) {
      const worker = new Worker(queue, (job) => this.run(queue, job), {
        connection: connection.connection,
        prefix: connection.backend === 'redis' ? connection.prefix : undefined,
        concurrency: this.options.catalog.concurrency?.[queue] ?? 1,
        // A worker killed mid-job: its jobs are taken back within ~15 s instead of ~60 s, and a job may stall
        // several times (crash loops, restarts) before BullMQ gives up on it; handlers are idempotent.
        lockDuration: 10_000,
        stalledInterval: 5_000,
        maxStalledCount: 5,
      });
      worker.on('error', (err) => this.logger.error({ msg: 'queue worker error', queue, err }));
      worker.on('failed', (job, err) => {
        if (!job) return;
        const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError;
        const entry = { msg: 'job failed', queue, job: job.name, jobId: job.id, attempt: job.attemptsMade, final, err };
        if (final) this.logger.error(entry);
        else this.logger.warn(entry);
      });
      this.workers.push(worker);
      await worker.waitUntilReady();
    }
    this.logger.log(`queue workers running: ${this.workers.map((worker) => worker.name).join(', ')}`);
  }

  /**
   * Stop taking jobs and wait for the running ones (Worker.close() without force
   * does both) before other modules close what handlers use (the DataSource closes
   * in onApplicationShutdown, which comes after this hook).
   */
  async beforeApplicationShutdown(): Promise<void> {
    const results = await Promise.allSettled(this.workers.map((worker) => worker.close()));
    for (const result of results) {
      if (result.status === 'rejected')
        this.logger.error({ msg: 'closing a queue worker failed', err: result.reason as unknown });
    }
  }

  private async run(queue: string, job: Job): Promise<unknown> {
    const handler = this.handlers.handlerFor(job.name);
    if (!handler) throw new UnrecoverableError(`no handler for job "${job.name}" on queue "${queue}"`);
    const started = process.hrtime.bigint();
    let outcome: 'completed' | 'failed' = 'failed';
    try {
      const result = await handler(job.data, job);
      outcome = 'completed';
      return result;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics?.observeJob(queue, job.name, outcome, seconds);
    }
  }
}
