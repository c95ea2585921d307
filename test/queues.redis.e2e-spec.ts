import { queueSuite } from './queue-suite';
import { TEST_REDIS_URL } from './support/services';

// Global setup probes Redis once; in CI a missing Redis fails the run there instead of skipping here.
if (process.env.TEST_REDIS_AVAILABLE === '1') {
  queueSuite('redis');
} else {
  describe('queues on the redis backend', () => {
    it.skip(`skipped: Redis is not reachable at ${TEST_REDIS_URL}`, () => undefined);
  });
}
