import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { OnJob } from '../queue/on-job.decorator';
import { JobName, type JobPayloads } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { RequestContext } from '../common/context/request-context';
import { IdempotencyRepository } from './idempotency.repository';

/** Clients are promised that a key is honoured for at least 24 h; never purge younger keys. */
export const IDEMPOTENCY_KEY_MIN_HOURS = 24;
/** What the hourly purge keeps: twice the promise, so clock skew or a late retry still finds its key. */
export const IDEMPOTENCY_KEY_RETENTION_HOURS = 48;
export const IDEMPOTENCY_PURGE_SCHEDULER = 'purge-idempotency-keys-hourly';

/** Deletes stored Idempotency-Key outcomes once they are older than the retention. */
@Injectable()
export class IdempotencyPurgeJob implements OnApplicationBootstrap {
  private readonly logger = new Logger(IdempotencyPurgeJob.name);

  constructor(
    private readonly keys: IdempotencyRepository,
    private readonly queues: QueueService,
  ) {}

  /** Worker processes own the schedule; upserting it at every boot is idempotent. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.queues.isWorker) return;
    await this.queues.upsertScheduler(
      IDEMPOTENCY_PURGE_SCHEDULER,
      JobName.PurgeIdempotencyKeys,
      { olderThanHours: IDEMPOTENCY_KEY_RETENTION_HOURS },
      { everyMs: 3_600_000 },
    );
  }

  /** Idempotent: a second run deletes what has aged since, nothing else. */
  @OnJob(JobName.PurgeIdempotencyKeys)
  async purge({ olderThanHours }: JobPayloads[JobName.PurgeIdempotencyKeys]): Promise<{ deleted: number }> {
    if (!Number.isInteger(olderThanHours) || olderThanHours < IDEMPOTENCY_KEY_MIN_HOURS) {
      throw new UnrecoverableError(
        `olderThanHours must be an integer ≥ ${IDEMPOTENCY_KEY_MIN_HOURS}, got ${olderThanHours}`,
      );
    }
    const deleted = await this.keys.purgeOlderThan(RequestContext.system(), olderThanHours);
    if (deleted > 0) this.logger.log({ msg: 'purged idempotency keys', deleted, olderThanHours });
    return { deleted };
  }
}
