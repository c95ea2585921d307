import { randomBytes } from 'node:crypto';
import { Test } from '@nestjs/testing';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { IDEMPOTENCY_PURGE_SCHEDULER, IDEMPOTENCY_KEY_RETENTION_HOURS } from '../src/idempotency/idempotency-purge.job';
import { loadConfig } from '../src/config/app-config';
import { ConfigModule } from '../src/config/config.module';
import { DatabaseModule } from '../src/database/database.module';
import { entities } from '../src/entities';
import { IdempotencyModule } from '../src/idempotency/idempotency.module';
import { prepareQueueBackend } from '../src/queue/queue-backend';
import { JOB_QUEUE, JobName, QueueName } from '../src/queue/queue.constants';
import { QueueModule } from '../src/queue/queue.module';
import { QueueService } from '../src/queue/queue.service';
import { queueSuite } from './queue-suite';

queueSuite('postgres');

describe('the maintenance queue (production job catalog)', () => {
  let app: INestApplicationContext;

  beforeAll(async () => {
    const databaseUrl = process.env.TEST_DATABASE_URL as string;
    const connection = await prepareQueueBackend({ QUEUE_BACKEND: 'postgres', REDIS_URL: undefined }, databaseUrl);
    const moduleRef = await Test.createTestingModule({
      imports: [
        // The stored keys' responses are sealed with the app's data key (CryptoModule, through IdempotencyModule).
        ConfigModule.forRoot(loadConfig({ NODE_ENV: 'test', DATABASE_URL: databaseUrl })),
        // The purge job's repository takes the transactional connection DatabaseModule provides.
        DatabaseModule.forRoot(databaseUrl, entities),
        // The maintenance job of production, on its production queue (the full catalog, with every feature
        // module, boots in every app-level e2e test: startTestApp refuses to start if a job lacks its handler).
        QueueModule.forRoot({
          connection,
          worker: true,
          catalog: {
            jobs: { [JobName.PurgeIdempotencyKeys]: JOB_QUEUE[JobName.PurgeIdempotencyKeys] },
            concurrency: { [QueueName.Maintenance]: 1 },
          },
        }),
        IdempotencyModule,
      ],
    }).compile();
    // The refused purge below logs an error on purpose.
    moduleRef.useLogger(false);
    app = await moduleRef.init();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('schedules the idempotency-key purge hourly at worker boot', async () => {
    const scheduler = await app
      .get(QueueService)
      .queue(QueueName.Maintenance)
      .getJobScheduler(IDEMPOTENCY_PURGE_SCHEDULER);
    expect(scheduler).toMatchObject({
      name: JobName.PurgeIdempotencyKeys,
      every: 3_600_000,
      template: { data: { olderThanHours: IDEMPOTENCY_KEY_RETENTION_HOURS } },
    });
  });

  it('purges only the idempotency keys older than the retention', async () => {
    const dataSource = app.get(DataSource);
    const clientId = `cli_purge${randomBytes(4).toString('hex')}`;
    const insert = (key: string, hoursAgo: number) =>
      dataSource.query(
        `INSERT INTO idempotency_keys (client_id, key, fingerprint, response_status, response_body, created_at)
         VALUES ($1, $2, 'f', 201, '{}', now() - make_interval(hours => $3))`,
        [clientId, key, hoursAgo],
      );
    await insert('old', 72);
    await insert('day-old', 25);
    await insert('fresh', 0);

    const queues = app.get(QueueService);
    const id = await queues.add(JobName.PurgeIdempotencyKeys, { olderThanHours: 48 });
    const deadline = Date.now() + 10_000;
    let state = '';
    while (state !== 'completed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      state = (await (await queues.queue(QueueName.Maintenance).getJob(id))?.getState()) ?? 'missing';
    }
    expect(state).toBe('completed');
    const left = await dataSource.query<Array<{ key: string }>>(
      'SELECT key FROM idempotency_keys WHERE client_id = $1 ORDER BY key',
      [clientId],
    );
    expect(left.map((row) => row.key)).toEqual(['day-old', 'fresh']);
  });

  it('refuses a purge that would break the 24 h promise, without retrying', async () => {
    const queues = app.get(QueueService);
    const id = await queues.add(JobName.PurgeIdempotencyKeys, { olderThanHours: 1 });
    const deadline = Date.now() + 10_000;
    let state = '';
    while (state !== 'failed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      state = (await (await queues.queue(QueueName.Maintenance).getJob(id))?.getState()) ?? 'missing';
    }
    expect(state).toBe('failed');
    const job = await queues.queue(QueueName.Maintenance).getJob(id);
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toContain('olderThanHours must be an integer ≥ 24');
  });
});
