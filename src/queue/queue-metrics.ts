import { Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { QueueService } from './queue.service';

/** How long a scrape waits for queue counts before reporting none. */
const QUEUE_COUNTS_TIMEOUT_MS = 2_000;

/** The `queue_jobs` gauge: jobs per queue and state, read from the backend at scrape time (metrics knows no queue). */
@Injectable()
export class QueueMetrics {
  private readonly logger = new Logger(QueueMetrics.name);

  constructor(
    metrics: MetricsService,
    private readonly queues: QueueService,
  ) {
    const gauge: Gauge<'queue' | 'state'> = new Gauge({
      name: 'queue_jobs',
      help: 'Jobs per queue and state, read from the queue backend at scrape time',
      labelNames: ['queue', 'state'],
      registers: [metrics.registry],
      collect: () => this.collect(gauge),
    });
  }

  private async collect(gauge: Gauge<'queue' | 'state'>): Promise<void> {
    // Drop last scrape's series: a queue that cannot be read must not report stale counts.
    gauge.reset();
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
