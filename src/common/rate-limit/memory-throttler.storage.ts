import type { OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RateLimitStorage } from './rate-limit-storage';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

interface Window {
  hits: number;
  resetsAt: number;
  blockedUntil: number;
}

/**
 * Fixed-window counters in this process's memory (the Redis storage does the same
 * across processes). O(1) per request: the stock in-memory storage keeps one
 * timestamp per hit and filters them all on every request, which at a few
 * thousand requests per second costs more than the rest of the request.
 */
export class MemoryThrottlerStorage implements RateLimitStorage, OnModuleDestroy {
  private readonly windows = new Map<string, Window>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  increment(key: string, ttl: number, limit: number, blockDuration: number): Promise<ThrottlerStorageRecord> {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || (window.resetsAt <= now && window.blockedUntil <= now)) {
      window = { hits: 0, resetsAt: now + ttl, blockedUntil: 0 };
      this.windows.set(key, window);
    } else if (window.resetsAt <= now) {
      window.hits = 0;
      window.resetsAt = now + ttl;
    }
    window.hits++;
    if (window.hits > limit && window.blockedUntil <= now) window.blockedUntil = now + (blockDuration || ttl);
    const isBlocked = window.blockedUntil > now;
    return Promise.resolve({
      totalHits: window.hits,
      timeToExpire: Math.max(0, Math.ceil((window.resetsAt - now) / 1000)),
      isBlocked,
      timeToBlockExpire: isBlocked ? Math.max(1, Math.ceil((window.blockedUntil - now) / 1000)) : 0,
    });
  }

  blockedForSeconds(key: string): Promise<number> {
    const blockedUntil = this.windows.get(key)?.blockedUntil ?? 0;
    const now = this.now();
    return Promise.resolve(blockedUntil > now ? Math.max(1, Math.ceil((blockedUntil - now) / 1000)) : 0);
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, window] of this.windows) {
      if (window.resetsAt <= now && window.blockedUntil <= now) this.windows.delete(key);
    }
  }
}
