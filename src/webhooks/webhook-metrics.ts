import { Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { RequestContext } from '../common/context/request-context';
import { MetricsService } from '../metrics/metrics.service';
import { WebhooksRepository } from './webhooks.repository';

/** How long a scrape waits for the backlog query before reporting none. */
const BACKLOG_QUERY_TIMEOUT_MS = 2_000;

/**
 * Webhook delivery in /metrics: attempts by result, deliveries given up, the lag from an event's commit to its
 * successful delivery, and the backlog (read from the delivery rows at scrape time, so every process reports the
 * same numbers).
 */
@Injectable()
export class WebhookMetrics {
  private readonly logger = new Logger(WebhookMetrics.name);
  private readonly attempts: Counter<'result'>;
  private readonly exhaustedDeliveries: Counter;
  private readonly lag: Histogram;

  constructor(metrics: MetricsService, repository: WebhooksRepository) {
    const registers = [metrics.registry];
    this.attempts = new Counter({
      name: 'webhook_attempts_total',
      help: 'Webhook delivery attempts by result (success: the receiver answered 2xx)',
      labelNames: ['result'],
      registers,
    });
    this.exhaustedDeliveries = new Counter({
      name: 'webhook_deliveries_failed_total',
      help: 'Webhook deliveries given up after the whole retry schedule',
      registers,
    });
    this.lag = new Histogram({
      name: 'webhook_delivery_lag_seconds',
      help: 'From the recording of an event to its successful delivery to an endpoint',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 3600, 86_400],
      registers,
    });
    const backlog: Gauge<'state'> = new Gauge({
      name: 'webhook_deliveries_pending',
      help: 'Webhook deliveries not yet delivered: due now (state=due) or waiting for a retry (state=retrying)',
      labelNames: ['state'],
      registers,
      collect: async () => {
        backlog.reset();
        let timer: NodeJS.Timeout | undefined;
        try {
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('backlog query timed out')), BACKLOG_QUERY_TIMEOUT_MS);
          });
          const row = await Promise.race([repository.backlog(RequestContext.system()), timeout]);
          backlog.set({ state: 'due' }, row.due);
          backlog.set({ state: 'retrying' }, row.retrying);
        } catch (err) {
          this.logger.warn({ msg: 'could not read the webhook backlog for metrics', err });
        } finally {
          clearTimeout(timer);
        }
      },
    });
  }

  attempted(succeeded: boolean, eventCreatedAt: Date): void {
    this.attempts.inc({ result: succeeded ? 'success' : 'failure' });
    if (succeeded) this.lag.observe(Math.max(0, Date.now() - eventCreatedAt.getTime()) / 1000);
  }

  exhausted(): void {
    this.exhaustedDeliveries.inc();
  }
}
