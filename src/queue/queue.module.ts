import { Global, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BullModule, getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { MetricsModule } from '../metrics/metrics.module';
import { JobHandlersService } from './job-handlers.service';
import { QueueMetrics } from './queue-metrics';
import { QueueWorkerService } from './queue-worker.service';
import { catalogQueues, DEFAULT_JOB_CATALOG } from './queue.constants';
import {
  DEFAULT_JOB_OPTIONS,
  QUEUE_MODULE_OPTIONS,
  type QueueModuleOptions,
  type ResolvedQueueModuleOptions,
} from './queue.options';
import { QueueService } from './queue.service';

/**
 * BullMQ for the whole application: one Queue per queue name (injectable with
 * @InjectQueue as well), QueueService to add jobs, the boot check that every job
 * has one @OnJob handler, and with `worker: true` the Workers that run them. Import once, in the root module.
 */
@Global()
@Module({})
export class QueueModule {
  static forRoot(options: QueueModuleOptions): DynamicModule {
    const resolved: ResolvedQueueModuleOptions = { ...options, catalog: options.catalog ?? DEFAULT_JOB_CATALOG };
    const { connection } = resolved;
    const queueNames = catalogQueues(resolved.catalog);
    const queueService: Provider = {
      provide: QueueService,
      useFactory: (opts: ResolvedQueueModuleOptions, ...queues: Queue[]) => new QueueService(opts, queues),
      inject: [QUEUE_MODULE_OPTIONS, ...queueNames.map((name) => getQueueToken(name))],
    };
    const queuesModule = BullModule.registerQueue(...queueNames.map((name) => ({ name })));
    return {
      module: QueueModule,
      global: true,
      imports: [
        DiscoveryModule,
        MetricsModule,
        BullModule.forRoot({
          connection: connection.connection,
          prefix: connection.backend === 'redis' ? connection.prefix : undefined,
          defaultJobOptions: DEFAULT_JOB_OPTIONS,
        }),
        queuesModule,
      ],
      providers: [
        { provide: QUEUE_MODULE_OPTIONS, useValue: resolved },
        queueService,
        JobHandlersService,
        QueueMetrics,
        ...(resolved.worker ? [QueueWorkerService] : []),
      ],
      exports: [QueueService, queuesModule],
    };
  }
}
