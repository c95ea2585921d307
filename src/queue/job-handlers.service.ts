import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { Job } from 'bullmq';
import { resolveJobHandlers, type DiscoveredHandler } from './job-handlers';
import { ON_JOB_METADATA } from './on-job.decorator';
import { QUEUE_MODULE_OPTIONS, type ResolvedQueueModuleOptions } from './queue.options';

export type BoundHandler = (payload: unknown, job: Job) => Promise<unknown>;

/**
 * Every process, API-only ones included: finds the @OnJob handlers and refuses to boot unless every job of the
 * catalog has exactly one, so a deployment missing a handler fails wherever it starts, not only on its workers.
 */
@Injectable()
export class JobHandlersService implements OnModuleInit {
  private readonly logger = new Logger(JobHandlersService.name);
  private handlers = new Map<string, BoundHandler>();

  constructor(
    @Inject(QUEUE_MODULE_OPTIONS) private readonly options: ResolvedQueueModuleOptions,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  /** Every provider exists by now; checking here fails boot before anything starts. */
  onModuleInit(): void {
    this.handlers = resolveJobHandlers(this.options.catalog, this.discoverHandlers());
  }

  handlerFor(job: string): BoundHandler | undefined {
    return this.handlers.get(job);
  }

  private discoverHandlers(): DiscoveredHandler<BoundHandler>[] {
    const found: DiscoveredHandler<BoundHandler>[] = [];
    const seen = new Set<object>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (wrapper.isAlias || typeof instance !== 'object' || instance === null || seen.has(instance)) continue;
      seen.add(instance);
      const prototype = Object.getPrototypeOf(instance) as object | null;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const fn = (instance as Record<string, unknown>)[method];
        if (typeof fn !== 'function') continue;
        const job = Reflect.getMetadata(ON_JOB_METADATA, fn) as string | undefined;
        if (job === undefined) continue;
        const owner = `${instance.constructor.name}.${method}`;
        if (!wrapper.isDependencyTreeStatic()) {
          // A request-scoped provider has no instance outside a request; leave the job unhandled so boot says so.
          this.logger.error(`${owner} handles "${job}" but is not a singleton provider; it is ignored`);
          continue;
        }
        found.push({ job, owner, handler: (fn as BoundHandler).bind(instance) });
      }
    }
    return found;
  }
}
