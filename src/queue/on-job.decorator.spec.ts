import { ON_JOB_METADATA, OnJob } from './on-job.decorator';
import { JobName, type JobPayloads } from './queue.constants';

class Handlers {
  @OnJob(JobName.PurgeIdempotencyKeys)
  async purge(payload: JobPayloads[JobName.PurgeIdempotencyKeys]): Promise<number> {
    return payload.olderThanHours;
  }

  async unmarked(): Promise<void> {}
}

describe('@OnJob', () => {
  it('marks the method with its job name and leaves it callable', async () => {
    const handlers = new Handlers();
    expect(Reflect.getMetadata(ON_JOB_METADATA, Handlers.prototype.purge)).toBe(JobName.PurgeIdempotencyKeys);
    expect(Reflect.getMetadata(ON_JOB_METADATA, Handlers.prototype.unmarked)).toBeUndefined();
    await expect(handlers.purge({ olderThanHours: 48 })).resolves.toBe(48);
  });
});
