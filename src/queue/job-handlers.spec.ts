import { JobHandlerConfigError, resolveJobHandlers, type DiscoveredHandler } from './job-handlers';
import {
  catalogQueues,
  DEFAULT_JOB_CATALOG,
  JOB_QUEUE,
  JobName,
  QUEUE_CONCURRENCY,
  QueueName,
} from './queue.constants';

const catalog = { jobs: { a: 'q1', b: 'q1', c: 'q2' } };
const handler = (job: string, owner = `Owner.${job}`): DiscoveredHandler<string> => ({ job, owner, handler: owner });

function refusal(found: DiscoveredHandler<string>[]): string {
  try {
    resolveJobHandlers(catalog, found);
  } catch (error) {
    expect(error).toBeInstanceOf(JobHandlerConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the handlers to be refused');
}

describe('resolveJobHandlers', () => {
  it('maps every job to its one handler', () => {
    const map = resolveJobHandlers(catalog, [handler('a'), handler('b'), handler('c')]);
    expect([...map]).toEqual([
      ['a', 'Owner.a'],
      ['b', 'Owner.b'],
      ['c', 'Owner.c'],
    ]);
  });

  it('refuses a job without a handler, naming it', () => {
    expect(refusal([handler('a'), handler('c')])).toContain('job "b" has no @OnJob handler');
  });

  it('refuses two handlers for one job, naming both', () => {
    const message = refusal([handler('a'), handler('b', 'First.b'), handler('b', 'Second.b'), handler('c')]);
    expect(message).toContain('job "b" has 2 @OnJob handlers: First.b, Second.b');
  });

  it('refuses a handler for a job no queue runs', () => {
    expect(refusal([handler('a'), handler('b'), handler('c'), handler('zzz', 'Stray.run')])).toContain(
      'Stray.run handles job "zzz", which no queue runs',
    );
  });

  it('lists every problem at once', () => {
    const message = refusal([handler('b'), handler('b', 'Again.b')]);
    expect(message.split('\n').slice(1)).toEqual([
      '  job "a" has no @OnJob handler',
      '  job "b" has 2 @OnJob handlers: Owner.b, Again.b',
      '  job "c" has no @OnJob handler',
    ]);
  });
});

describe('the production job catalog', () => {
  it('puts every job on a queue that has a concurrency', () => {
    for (const job of Object.values(JobName)) {
      const queue = JOB_QUEUE[job];
      expect(Object.values(QueueName)).toContain(queue);
      expect(QUEUE_CONCURRENCY[queue]).toBeGreaterThanOrEqual(1);
    }
  });

  it('has a job on every queue (a queue without jobs would run an idle worker)', () => {
    expect(catalogQueues(DEFAULT_JOB_CATALOG)).toEqual([...Object.values(QueueName)].sort());
  });
});
