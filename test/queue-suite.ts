import { randomBytes } from 'node:crypto';
import { Injectable, type INestApplicationContext, type ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Queue } from 'bullmq';
import { DatabaseModule } from '../src/database/database.module';
import { entities } from '../src/entities';
import { HealthModule } from '../src/health/health.module';
import { MetricsModule } from '../src/metrics/metrics.module';
import { MetricsServer } from '../src/metrics/metrics-server';
import { MetricsService } from '../src/metrics/metrics.service';
import { OnJob, type JobContext } from '../src/queue/on-job.decorator';
import { prepareQueueBackend, type QueueConnection } from '../src/queue/queue-backend';
import type { JobCatalog, JobName } from '../src/queue/queue.constants';
import { QueueModule } from '../src/queue/queue.module';
import { QueueService, type AddJobOptions } from '../src/queue/queue.service';
import { TEST_REDIS_URL } from './support/services';
import { waitUntil, type PollOptions } from './support/wait';

export type QueueBackendName = 'postgres' | 'redis';

/** Per suite run, so parallel runs (and the other backend's suite) never share a queue or a Redis key. */
const RUN = `${process.pid}-${randomBytes(3).toString('hex')}`;
const MAIN_QUEUE = `test-main-${RUN}`;
const GATED_QUEUE = `test-gated-${RUN}`;

/** Test-only jobs: production enums stay free of them, the suite passes its own catalog. */
const TestJob = {
  Echo: 'test-echo',
  Flaky: 'test-flaky',
  Gated: 'test-gated',
} as const;

const TEST_CATALOG: JobCatalog = {
  jobs: { [TestJob.Echo]: MAIN_QUEUE, [TestJob.Flaky]: MAIN_QUEUE, [TestJob.Gated]: GATED_QUEUE },
  concurrency: { [MAIN_QUEUE]: 4, [GATED_QUEUE]: 1 },
};

/** The production API is typed by JobName and its payloads; test names are cast once here. */
const asJob = (name: string) => name as unknown as JobName;
const OnTestJob = (name: string) => OnJob(asJob(name)) as MethodDecorator;

interface EchoPayload {
  tag: string;
  n: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** An ordinary provider whose @OnJob methods the QueueModule must find. */
@Injectable()
class TestJobs {
  readonly echoed: Array<{ payload: EchoPayload; jobId: string | undefined }> = [];
  readonly flakyAttempts = new Map<string, number[]>();
  readonly events: string[] = [];
  gate = deferred();

  @OnTestJob(TestJob.Echo)
  async echo(payload: EchoPayload, job: JobContext): Promise<{ echoed: number }> {
    this.echoed.push({ payload, jobId: job.id });
    return { echoed: payload.n };
  }

  /** Fails its first attempt, then succeeds. */
  @OnTestJob(TestJob.Flaky)
  async flaky(payload: { key: string }): Promise<void> {
    const attempts = [...(this.flakyAttempts.get(payload.key) ?? []), Date.now()];
    this.flakyAttempts.set(payload.key, attempts);
    if (attempts.length === 1) throw new Error('first attempt fails on purpose');
  }

  /** Runs until the test opens the gate. */
  @OnTestJob(TestJob.Gated)
  async gated(payload: { tag: string }): Promise<void> {
    this.events.push(`started ${payload.tag}`);
    await this.gate.promise;
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.events.push(`finished ${payload.tag}`);
  }
}

const POLL: PollOptions = { timeoutMs: 10_000, intervalMs: 25 };

/** Fastify's inject() pulls in an ESM-only dependency Jest cannot load; a real socket avoids it. */
async function listen(app: NestFastifyApplication): Promise<string> {
  if (!app.getHttpServer().listening) await app.listen({ port: 0, host: '127.0.0.1' });
  return app.getUrl();
}

function redisPrefix(): string {
  return `fuli-test-${RUN}`;
}

async function connect(backend: QueueBackendName): Promise<QueueConnection> {
  const databaseUrl = process.env.TEST_DATABASE_URL;
  if (!databaseUrl) throw new Error('TEST_DATABASE_URL is not set: run the e2e tests through jest (global setup)');
  return prepareQueueBackend({ QUEUE_BACKEND: backend, REDIS_URL: TEST_REDIS_URL }, databaseUrl, {
    redisPrefix: redisPrefix(),
  });
}

function testModule(connection: QueueConnection, extra: ModuleMetadata = {}, catalog = TEST_CATALOG) {
  return Test.createTestingModule({
    imports: [QueueModule.forRoot({ connection, worker: true, catalog }), MetricsModule, ...(extra.imports ?? [])],
    providers: [TestJobs, ...(extra.providers ?? [])],
  });
}

/** A bare BullMQ queue on its own connection, to look at jobs after an application has closed. */
async function inspectQueue<T>(
  backend: QueueBackendName,
  name: string,
  look: (queue: Queue) => Promise<T>,
): Promise<T> {
  const connection = await connect(backend);
  const queue = new Queue(name, {
    connection: connection.connection,
    prefix: connection.backend === 'redis' ? connection.prefix : undefined,
  });
  try {
    return await look(queue);
  } finally {
    await queue.close();
    await connection.close();
  }
}

async function jobState(queues: QueueService, queue: string, jobId: string): Promise<string> {
  const job = await queues.queue(queue as never).getJob(jobId);
  return job ? await job.getState() : 'missing';
}

/**
 * The queue contract, run against one backend: typed dispatch, retries with
 * backoff, jobId deduplication, counts, graceful drain, and refusal to boot a
 * worker with a job nobody handles.
 */
export function queueSuite(backend: QueueBackendName): void {
  // testTimeout in a Jest project entry is ignored (it is a global option): set it here.
  jest.setTimeout(30_000);
  describe(`queues on the ${backend} backend`, () => {
    afterAll(async () => {
      // The Postgres test database is dropped after the run; Redis keeps keys, so remove this run's queues.
      if (backend !== 'redis') return;
      for (const name of [MAIN_QUEUE, GATED_QUEUE]) {
        await inspectQueue(backend, name, (queue) => queue.obliterate({ force: true }));
      }
    });

    describe('a running worker', () => {
      let app: NestFastifyApplication;
      let queues: QueueService;
      let jobs: TestJobs;
      const add = (name: string, payload: object, options?: AddJobOptions) => queues.add(asJob(name), payload, options);

      beforeAll(async () => {
        const connection = await connect(backend);
        const databaseUrl = process.env.TEST_DATABASE_URL as string;
        const moduleRef = await testModule(connection, {
          imports: [DatabaseModule.forRoot(databaseUrl, entities), HealthModule],
        }).compile();
        app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
        await app.init();
        await app.getHttpAdapter().getInstance().ready();
        queues = app.get(QueueService);
        jobs = app.get(TestJobs);
      });

      afterAll(async () => {
        jobs?.gate.resolve();
        await app?.close();
      });

      it('runs an added job exactly once, with its payload', async () => {
        const id = await add(TestJob.Echo, { tag: 'once', n: 7 });
        await waitUntil(
          'the echo job to complete',
          async () => (await jobState(queues, MAIN_QUEUE, id)) === 'completed',
          POLL,
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        const runs = jobs.echoed.filter((entry) => entry.payload.tag === 'once');
        expect(runs).toEqual([{ payload: { tag: 'once', n: 7 }, jobId: id }]);
        const job = await queues.queue(MAIN_QUEUE as never).getJob(id);
        expect(job?.returnvalue).toEqual({ echoed: 7 });
      });

      it('retries a failing job after a backoff, then succeeds', async () => {
        const id = await add(TestJob.Flaky, { key: 'retry' });
        await waitUntil(
          'the flaky job to complete',
          async () => (await jobState(queues, MAIN_QUEUE, id)) === 'completed',
          POLL,
        );
        const attempts = jobs.flakyAttempts.get('retry') ?? [];
        expect(attempts).toHaveLength(2);
        // Default backoff: exponential from 1 s.
        expect(attempts[1] - attempts[0]).toBeGreaterThanOrEqual(900);
        const job = await queues.queue(MAIN_QUEUE as never).getJob(id);
        expect(job?.attemptsMade).toBe(2);
      });

      it('runs a job added twice with one jobId once', async () => {
        const jobId = `dedupe-${RUN}`;
        const first = await add(TestJob.Echo, { tag: 'dedupe', n: 1 }, { jobId });
        const second = await add(TestJob.Echo, { tag: 'dedupe', n: 2 }, { jobId });
        expect([first, second]).toEqual([jobId, jobId]);
        await waitUntil(
          'the job to complete',
          async () => (await jobState(queues, MAIN_QUEUE, jobId)) === 'completed',
          POLL,
        );
        // Still a no-op once completed, while the finished job is retained.
        expect(await add(TestJob.Echo, { tag: 'dedupe', n: 3 }, { jobId })).toBe(jobId);
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(jobs.echoed.filter((entry) => entry.payload.tag === 'dedupe')).toEqual([
          { payload: { tag: 'dedupe', n: 1 }, jobId },
        ]);
      });

      it('counts waiting and active jobs per queue', async () => {
        jobs.gate = deferred();
        const ids = [await add(TestJob.Gated, { tag: 'c1' }), await add(TestJob.Gated, { tag: 'c2' })];
        ids.push(await add(TestJob.Gated, { tag: 'c3' }));
        await waitUntil('the first gated job to start', () => jobs.events.includes('started c1'), POLL);
        const counts = await queues.counts();
        expect(counts[GATED_QUEUE as never]).toMatchObject({ active: 1, waiting: 2, delayed: 0, failed: 0 });
        expect(Object.keys(counts).sort()).toEqual([GATED_QUEUE, MAIN_QUEUE].sort());
        jobs.gate.resolve();
        await waitUntil(
          'the gated jobs to complete',
          async () => {
            const states = await Promise.all(ids.map((id) => jobState(queues, GATED_QUEUE, id)));
            return states.every((state) => state === 'completed');
          },
          POLL,
        );
        expect((await queues.counts())[GATED_QUEUE as never]).toMatchObject({ active: 0, waiting: 0, completed: 3 });
      });

      it('records job durations and queue gauges in the metrics', async () => {
        const text = await app.get(MetricsService).render();
        expect(text).toContain(
          `job_duration_seconds_count{queue="${MAIN_QUEUE}",job="${TestJob.Echo}",outcome="completed"}`,
        );
        expect(text).toContain(
          `job_duration_seconds_count{queue="${MAIN_QUEUE}",job="${TestJob.Flaky}",outcome="failed"} 1`,
        );
        expect(text).toContain(`queue_jobs{queue="${GATED_QUEUE}",state="completed"} 3`);
      });

      it('serves liveness, readiness and metrics over HTTP', async () => {
        const url = await listen(app);
        const live = await fetch(`${url}/health/live`);
        expect(live.status).toBe(200);
        expect(await live.json()).toEqual({ status: 'ok' });
        const ready = await fetch(`${url}/health/ready`);
        expect(ready.status).toBe(200);
        expect(await ready.json()).toMatchObject({
          status: 'ok',
          details: { database: { status: 'up' }, queue: { status: 'up', backend } },
        });
        // The scrape has a listener of its own, off the API port (src/metrics/metrics-server.ts).
        expect((await fetch(`${url}/metrics`)).status).toBe(404);
        const metricsUrl = await app.get(MetricsServer).listen('127.0.0.1', 0);
        const metrics = await fetch(`${metricsUrl}/metrics`);
        expect(metrics.status).toBe(200);
        expect(metrics.headers.get('content-type')).toContain('text/plain');
        const text = await metrics.text();
        expect(text).toContain('process_cpu_seconds_total');
        expect(text).toContain(`queue_jobs{queue="${MAIN_QUEUE}",state="waiting"} 0`);
      });
    });

    describe('a relay re-adding a job that failed for good', () => {
      // An application of its own: the running worker's tests above count its failures exactly.
      let app: NestFastifyApplication;
      let queues: QueueService;
      let jobs: TestJobs;
      const add = (name: string, payload: object, options?: AddJobOptions) => queues.add(asJob(name), payload, options);

      beforeAll(async () => {
        const moduleRef = await testModule(await connect(backend)).compile();
        app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
        await app.init();
        queues = app.get(QueueService);
        jobs = app.get(TestJobs);
      });

      afterAll(async () => {
        await app?.close();
      });

      it('retries a job that failed for good when it is added again with addOrRetryFailed', async () => {
        const jobId = `failed-for-good-${RUN}`;
        const key = `for-good-${RUN}`;
        await add(TestJob.Flaky, { key }, { jobId, attempts: 1 });
        await waitUntil('the job to fail', async () => (await jobState(queues, MAIN_QUEUE, jobId)) === 'failed', POLL);
        // add is a no-op while the failed job is retained; addOrRetryFailed runs it again.
        await add(TestJob.Flaky, { key }, { jobId, attempts: 1 });
        expect(await jobState(queues, MAIN_QUEUE, jobId)).toBe('failed');
        expect(await queues.addOrRetryFailed(asJob(TestJob.Flaky), { key } as never, { jobId, attempts: 1 })).toBe(
          jobId,
        );
        await waitUntil(
          'the retried job to complete',
          async () => (await jobState(queues, MAIN_QUEUE, jobId)) === 'completed',
          POLL,
        );
        expect(jobs.flakyAttempts.get(key)).toHaveLength(2);
        // A completed job is left alone.
        await queues.addOrRetryFailed(asJob(TestJob.Flaky), { key } as never, { jobId, attempts: 1 });
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(jobs.flakyAttempts.get(key)).toHaveLength(2);
      });
    });

    it('drains: closing the application waits for the job in flight to finish', async () => {
      const connection = await connect(backend);
      const moduleRef = await testModule(connection).compile();
      const app: INestApplicationContext = await moduleRef.init();
      const jobs = app.get(TestJobs);
      jobs.gate = deferred();
      const id = await app.get(QueueService).add(asJob(TestJob.Gated), { tag: 'drain' } as never);
      await waitUntil('the gated job to start', () => jobs.events.includes('started drain'), POLL);

      let closed = false;
      const closing = app.close().then(() => {
        closed = true;
        jobs.events.push('closed');
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(closed).toBe(false);
      jobs.events.push('gate opened');
      jobs.gate.resolve();
      await closing;

      expect(jobs.events.filter((event) => !event.startsWith('started'))).toEqual([
        'gate opened',
        'finished drain',
        'closed',
      ]);
      expect(await inspectQueue(backend, GATED_QUEUE, (queue) => queue.getJobState(id))).toBe('completed');
    });

    it('refuses to boot a worker when a job has no handler, naming the job', async () => {
      const connection = await connect(backend);
      const catalog: JobCatalog = { jobs: { ...TEST_CATALOG.jobs, 'test-orphan': MAIN_QUEUE } };
      const moduleRef = await testModule(connection, {}, catalog).compile();
      await expect(moduleRef.init()).rejects.toThrow('job "test-orphan" has no @OnJob handler');
      await moduleRef.close();
    });

    it('refuses to boot an API-only process too when a job has no handler', async () => {
      const connection = await connect(backend);
      const catalog: JobCatalog = { jobs: { ...TEST_CATALOG.jobs, 'test-orphan': MAIN_QUEUE } };
      const moduleRef = await Test.createTestingModule({
        imports: [QueueModule.forRoot({ connection, worker: false, catalog })],
        providers: [TestJobs],
      }).compile();
      await expect(moduleRef.init()).rejects.toThrow('job "test-orphan" has no @OnJob handler');
      await moduleRef.close();
    });

    it('adds jobs without running them in an API-only process', async () => {
      const connection = await connect(backend);
      const moduleRef = await Test.createTestingModule({
        imports: [QueueModule.forRoot({ connection, worker: false, catalog: TEST_CATALOG })],
        providers: [TestJobs],
      }).compile();
      const app = await moduleRef.init();
      const queues = app.get(QueueService);
      expect(queues.isWorker).toBe(false);
      // The handlers exist (the boot check passes) but nothing runs them here: the job only waits.
      const id = await queues.add(asJob(TestJob.Gated), { tag: 'api-only' } as never);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await jobState(queues, GATED_QUEUE, id)).toBe('waiting');
      await queues.queue(GATED_QUEUE as never).remove(id);
      await app.close();
    });

    it('reports not ready, naming the queue, when the queue backend does not answer', async () => {
      // An API-only process (no worker holding a connection), whose queue connection is then closed:
      // the one way to make a real backend unreachable without stopping it for everyone.
      const connection = await connect(backend);
      const moduleRef = await Test.createTestingModule({
        imports: [
          QueueModule.forRoot({ connection, worker: false, catalog: TEST_CATALOG }),
          DatabaseModule.forRoot(process.env.TEST_DATABASE_URL as string, entities),
          HealthModule,
        ],
        providers: [TestJobs],
      }).compile();
      const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
      try {
        const url = await listen(app);
        expect((await fetch(`${url}/health/ready`)).status).toBe(200);
        await connection.close();
        const ready = await fetch(`${url}/health/ready`);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toMatchObject({
          status: 'error',
          error: { queue: { status: 'down' } },
          info: { database: { status: 'up' } },
        });
        expect((await fetch(`${url}/health/live`)).status).toBe(200);
      } finally {
        await app.close();
      }
    });
  });
}
