import type { JobCatalog } from './queue.constants';

/** One @OnJob method found at boot. */
export interface DiscoveredHandler<H = unknown> {
  job: string;
  /** `Class.method`, for error messages. */
  owner: string;
  handler: H;
}

export class JobHandlerConfigError extends Error {
  override name = 'JobHandlerConfigError';
}

/**
 * Checks that every job of the catalog has exactly one handler and that no handler
 * claims a job the catalog does not know; returns the handler of each job.
 * A worker that boots with a gap would leave jobs waiting forever, so it refuses.
 */
export function resolveJobHandlers<H>(catalog: JobCatalog, found: readonly DiscoveredHandler<H>[]): Map<string, H> {
  const byJob = new Map<string, DiscoveredHandler<H>[]>();
  for (const entry of found) byJob.set(entry.job, [...(byJob.get(entry.job) ?? []), entry]);
  const problems: string[] = [];
  for (const job of Object.keys(catalog.jobs).sort()) {
    const claims = byJob.get(job) ?? [];
    if (claims.length === 0) problems.push(`job "${job}" has no @OnJob handler`);
    if (claims.length > 1) {
      problems.push(`job "${job}" has ${claims.length} @OnJob handlers: ${claims.map((c) => c.owner).join(', ')}`);
    }
  }
  for (const [job, claims] of [...byJob].sort(([a], [b]) => a.localeCompare(b))) {
    if (!Object.hasOwn(catalog.jobs, job)) {
      problems.push(`${claims.map((c) => c.owner).join(', ')} handles job "${job}", which no queue runs`);
    }
  }
  if (problems.length > 0) {
    throw new JobHandlerConfigError(`Refusing to start the queue workers:\n  ${problems.join('\n  ')}`);
  }
  return new Map([...byJob].map(([job, [only]]) => [job, only.handler]));
}
