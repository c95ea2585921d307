import { Injectable, Logger, Optional } from '@nestjs/common';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { QueueService } from '../queue/queue.service';

/** How long a scrape waits for queue counts before reporting none. */
const QUEUE_COUNTS_TIMEOUT_MS = 2_000;

/**
 * Prometheus metrics of this process, in a registry of its own (not prom-client's
 * global one) so that several applications can live in one process, as in tests.
 * Works without the queue module: the queue gauge is then simply empty.
 */
@Injectable()
export class MetricsService {
  private readonly logger = new Logger(MetricsService.name);
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly jobDuration: Histogram<'queue' | 'job' | 'outcome'>;

  constructor(@Optional() private readonly queues?: QueueService) {
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.jobDuration = new Histogram({
      name: 'job_duration_seconds',
      help: 'Queue job run time by queue, job name and outcome of the attempt',
      labelNames: ['queue', 'job', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900],
      registers: [this.registry],
    });
    const queueJobs: Gauge<'queue' | 'state'> = new Gauge({
      name: 'queue_jobs',
      help: 'Jobs per queue and state, read from the queue backend at scrape time',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      collect: () => this.collectQueueJobs(queueJobs),
    });
  }

  /** `route` must be the route template (`/v1/orders/:id`), never the raw URL, to keep label cardinality bounded. */
  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }

  observeJob(queue: string, job: string, outcome: 'completed' | 'failed', seconds: number): void {
    this.jobDuration.observe({ queue, job, outcome }, seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  private async collectQueueJobs(gauge: Gauge<'queue' | 'state'>): Promise<void> {
    // Drop last scrape's series: a queue that cannot be read must not report stale counts.
    gauge.reset();
    if (!this.queues) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('queue counts timed out')), QUEUE_COUNTS_TIMEOUT_MS);
      });
      const counts = await Promise.race([this.queues.counts(), timeout]);
      for (const [queue, states] of Object.entries(counts)) {
        for (const [state, value] of Object.entries(states)) gauge.set({ queue, state }, value);
      }
    } catch (err) {
      // A scrape still answers with the other metrics; readiness reports the backend itself.
      this.logger.warn({ msg: 'could not read queue counts for metrics', err });
    } finally {
      clearTimeout(timer);
    }
  }
}
