import { Inject, Injectable, Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { ApiError } from '../common/errors/api-error';
import type { RateLimitStorage } from '../common/rate-limit/rate-limit-storage';
import { AppConfig } from '../config/app-config';

/**
 * Failed token requests counted per client id, in the rate limiter's storage (shared through Redis when
 * REDIS_URL is set): once a client id has failed TOKEN_FAILURE_LIMIT times in the window, its token requests are
 * refused with 429 and Retry-After before any secret is looked at, until the window ends.
 */
@Injectable()
export class TokenFailures {
  private readonly logger = new Logger(TokenFailures.name);

  constructor(
    @Inject(ThrottlerStorage) private readonly storage: RateLimitStorage,
    private readonly config: AppConfig,
  ) {}

  async assertAllowed(clientId: string): Promise<void> {
    const seconds = await this.storage.blockedForSeconds(keyOf(clientId));
    if (seconds > 0) {
      throw new ApiError(
        429,
        'too_many_failed_attempts',
        `Too many failed token requests for this client; try again in ${seconds} s`,
        { retry_after: seconds },
        { 'retry-after': String(seconds), 'cache-control': 'no-store' },
      );
    }
  }

  async record(clientId: string): Promise<void> {
    const windowMs = this.config.TOKEN_FAILURE_WINDOW_SECONDS * 1000;
    const limit = this.config.TOKEN_FAILURE_LIMIT;
    // The storage blocks a key once its hits exceed the limit it is given: the limit-th failure blocks here.
    const { totalHits } = await this.storage.increment(
      keyOf(clientId),
      windowMs,
      limit - 1,
      windowMs,
      'token-failures',
    );
    // The client id is not a secret; the secret tried never reaches a log.
    if (totalHits === limit) {
      this.logger.warn({ msg: 'token requests locked out after repeated failures', clientId });
    }
  }
}

function keyOf(clientId: string): string {
  return `fuli:token-failures:${clientId}`;
}
