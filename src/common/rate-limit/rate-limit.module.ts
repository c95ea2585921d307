import { DynamicModule, Module } from '@nestjs/common';
import { ThrottlerModule, type ThrottlerStorage } from '@nestjs/throttler';
import type { AppConfig } from '../../config/app-config';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { RedisThrottlerStorage } from './redis-throttler.storage';

const STORAGE = Symbol('RateLimitStorage');

@Module({})
class RateLimitStorageModule {
  static forRoot(redisUrl: string | undefined, redisPrefix: string | undefined): DynamicModule {
    return {
      module: RateLimitStorageModule,
      providers: [
        {
          provide: STORAGE,
          useFactory: () =>
            redisUrl ? new RedisThrottlerStorage(redisUrl, redisPrefix) : new MemoryThrottlerStorage(),
        },
      ],
      exports: [STORAGE],
    };
  }
}

/**
 * Rate-limit counters live in Redis when REDIS_URL is set (shared by every API
 * process), else in each process's memory (one budget per process).
 */
export function rateLimitModule(config: AppConfig): DynamicModule {
  return ThrottlerModule.forRootAsync({
    imports: [RateLimitStorageModule.forRoot(config.REDIS_URL, config.REDIS_PREFIX)],
    inject: [STORAGE],
    useFactory: (storage: ThrottlerStorage) => ({
      throttlers: [
        { name: 'default', ttl: config.RATE_LIMIT_WINDOW_SECONDS * 1000, limit: config.RATE_LIMIT_REQUESTS },
      ],
      storage,
    }),
  });
}
