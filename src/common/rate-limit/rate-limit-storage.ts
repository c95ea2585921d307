import type { ThrottlerStorage } from '@nestjs/throttler';

/**
 * The throttler storage (Redis when REDIS_URL is set, else this process's memory) plus a look at a key's block
 * without counting a hit: failure budgets count only failures, but must refuse before the work that could fail.
 */
export interface RateLimitStorage extends ThrottlerStorage {
  /** Seconds until the key's block ends; 0 when it is not blocked. */
  blockedForSeconds(key: string): Promise<number>;
}
