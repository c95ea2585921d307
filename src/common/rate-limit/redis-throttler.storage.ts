import type { OnModuleDestroy } from '@nestjs/common';
import type { RateLimitStorage } from './rate-limit-storage';
import Redis from 'ioredis';

/** Fixed window per key, shared by every API process: INCR and set the expiry atomically. */
const INCREMENT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
local blocked = 0
if hits > tonumber(ARGV[2]) then
  blocked = 1
  if tonumber(ARGV[3]) > 0 and redis.call('GET', KEYS[2]) == false then
    redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  end
end
local blockTtl = redis.call('PTTL', KEYS[2])
return { hits, ttl, blocked, blockTtl }
`;

export class RedisThrottlerStorage implements RateLimitStorage, OnModuleDestroy {
  private readonly redis: Redis;
  private closing?: Promise<void>;

  /** `prefix` (REDIS_PREFIX) goes before every key, those of the script included, as `<prefix>:fuli:rate:…`. */
  constructor(url: string, prefix?: string) {
    this.redis = new Redis(url, {
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      keyPrefix: prefix === undefined ? undefined : `${prefix}:`,
    });
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number) {
    const [totalHits, ttlMs, blocked, blockTtlMs] = (await this.redis.eval(
      INCREMENT,
      2,
      key,
      `${key}:blocked`,
      String(ttl),
      String(limit),
      String(blockDuration),
    )) as [number, number, number, number];
    const isBlocked = blocked === 1 || blockTtlMs > 0;
    return {
      totalHits,
      timeToExpire: Math.max(0, Math.ceil(ttlMs / 1000)),
      isBlocked,
      timeToBlockExpire: isBlocked ? Math.max(1, Math.ceil((blockTtlMs > 0 ? blockTtlMs : ttlMs) / 1000)) : 0,
    };
  }

  async blockedForSeconds(key: string): Promise<number> {
    const ms = await this.redis.pttl(`${key}:blocked`);
    return ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : 0;
  }

  /** Nest calls this twice: once for our provider, once for ThrottlerModule's, which holds the same instance. */
  onModuleDestroy(): Promise<void> {
    this.closing ??= this.redis.quit().then(() => undefined);
    return this.closing;
  }
}
