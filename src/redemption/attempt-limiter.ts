import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { Counter } from 'prom-client';
import { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { RedemptionRepository } from './redemption.repository';

/**
 * Who an attempt is counted against: the channel client, the holder account it names (bind), the caller's IP, and
 * the end user the channel says it acts for (its IP and device id, as the channel passes them).
 */
export interface AttemptSource {
  clientId: string | null;
  holderRef?: string | null;
  ip: string | null;
  endUser?: EndUser;
}

export interface EndUser {
  ip?: string | null;
  deviceId?: string | null;
}

/** Keys that lock out for the cool-down (one holder or end user), and keys that only slow a whole channel down. */
export type LockoutScope = 'holder' | 'end_user_ip' | 'device';
export type SlowdownScope = 'client' | 'ip';
export type AttemptScope = LockoutScope | SlowdownScope;

export type AttemptRule =
  | { key: string; scope: LockoutScope; limit: number; effect: 'lockout' }
  | { key: string; scope: SlowdownScope; limit: number; effect: 'slowdown' };

export interface FailureCount {
  failures: number;
  /** This failure started a cool-down (the key was not blocked before it). */
  newlyBlocked: boolean;
}

/** Where failure counters live: Redis when REDIS_URL is set (shared by every API process), else Postgres. */
export interface AttemptStore {
  /** Milliseconds until the last of these keys' cool-downs ends; 0 when none is blocked. */
  blockedForMs(keys: readonly string[]): Promise<number>;
  /** Counts one failure of `key` in its fixed window; the `limit`-th blocks the key for `lockMs`. */
  fail(key: string, limit: number, windowMs: number, lockMs: number): Promise<FailureCount>;
  close(): Promise<void>;
}

export class PostgresAttemptStore implements AttemptStore {
  /** Counters are kept outside any request's transaction: a failure counts even when its request fails. */
  private readonly ctx = RequestContext.system();

  constructor(private readonly counters: RedemptionRepository) {}

  blockedForMs(keys: readonly string[]): Promise<number> {
    return this.counters.blockedForMs(this.ctx, keys);
  }

  fail(key: string, limit: number, windowMs: number, lockMs: number): Promise<FailureCount> {
    return this.counters.countFailure(this.ctx, key, limit, windowMs, lockMs);
  }

  async close(): Promise<void> {
    // The connection belongs to the application.
  }
}

/** INCR in a fixed window; from the limit on, SET the blocked key unless it exists (NX): 1 when this call set it. */
const FAIL_SCRIPT = `
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local newly = 0
if failures >= tonumber(ARGV[2]) then
  if redis.call('SET', KEYS[2], '1', 'PX', ARGV[3], 'NX') then newly = 1 end
end
return { failures, newly }
`;

export class RedisAttemptStore implements AttemptStore {
  private readonly redis: Redis;
  private closing?: Promise<void>;

  constructor(url: string) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 2 });
  }

  async blockedForMs(keys: readonly string[]): Promise<number> {
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.pttl(`fuli:guess:${key}:blocked`);
    const results = (await pipeline.exec()) ?? [];
    let longest = 0;
    for (const [error, ttl] of results) {
      if (error) throw error;
      longest = Math.max(longest, Number(ttl));
    }
    return longest;
  }

  async fail(key: string, limit: number, windowMs: number, lockMs: number): Promise<FailureCount> {
    const [failures, newly] = (await this.redis.eval(
      FAIL_SCRIPT,
      2,
      `fuli:guess:${key}`,
      `fuli:guess:${key}:blocked`,
      String(windowMs),
      String(limit),
      String(lockMs),
    )) as [number, number];
    return { failures, newlyBlocked: newly === 1 };
  }

  close(): Promise<void> {
    this.closing ??= this.redis.quit().then(() => undefined);
    return this.closing;
  }
}

/**
 * Resistance to code guessing: failed verify and bind attempts (unknown code, wrong PIN, wrong identity) are counted
 * per key in a fixed window. Keys of one holder account or one end user (the IP and device id a channel passes for
 * its user; both per channel) lock out: past the limit they are refused with 429 and Retry-After for the cool-down,
 * before any card is looked up. Keys of a whole channel (its client, its calling IP) only slow down: past the limit
 * each verify and bind of that channel waits REDEMPTION_SLOWDOWN_MS, and the client's slow-down is raised as
 * `channel.under_attack` (audit record and metric), so that one guesser cannot shut out every holder of a channel.
 * Wrong PINs are also counted per card (RedemptionService: the card is frozen), whatever the channel.
 */
@Injectable()
export class AttemptLimiter implements OnModuleDestroy {
  private readonly logger = new Logger(AttemptLimiter.name);
  private readonly store: AttemptStore;
  private readonly lockouts: Counter<'scope'>;
  private readonly underAttack: Counter<'scope'>;

  constructor(
    private readonly config: AppConfig,
    counters: RedemptionRepository,
    metrics: MetricsService,
    private readonly audit: AuditService,
  ) {
    this.store = config.REDIS_URL ? new RedisAttemptStore(config.REDIS_URL) : new PostgresAttemptStore(counters);
    this.lockouts = new Counter({
      name: 'redemption_lockouts_total',
      help: 'Cool-downs started after too many failed card verify/bind attempts (holder, end user), and cards frozen after too many wrong PINs (card)',
      labelNames: ['scope'],
      registers: [metrics.registry],
    });
    this.underAttack = new Counter({
      name: 'redemption_channel_under_attack_total',
      help: 'Slow-downs started because a channel client (client) or a calling IP (ip) passed its failed-attempt limit',
      labelNames: ['scope'],
      registers: [metrics.registry],
    });
    // Each scope shows up at 0 from the first scrape, so alerts on increase() work from the start.
    for (const scope of ['holder', 'end_user_ip', 'device', 'card'] as const) this.lockouts.inc({ scope }, 0);
    for (const scope of ['client', 'ip'] as const) this.underAttack.inc({ scope }, 0);
  }

  rules(source: AttemptSource): AttemptRule[] {
    const config = this.config;
    const rules: AttemptRule[] = [];
    const { clientId, holderRef, endUser, ip } = source;
    if (clientId) {
      const limit = config.REDEMPTION_CLIENT_FAILURE_LIMIT;
      rules.push({ key: `client:${clientId}`, scope: 'client', limit, effect: 'slowdown' });
      // Holder accounts and end users are the channel's own: namespaced by the client, so that what one channel
      // says about its users never locks out another channel's.
      const holderLimit = config.REDEMPTION_HOLDER_FAILURE_LIMIT;
      const endUserLimit = config.REDEMPTION_END_USER_FAILURE_LIMIT;
      if (holderRef) {
        rules.push({ key: `holder:${clientId}:${holderRef}`, scope: 'holder', limit: holderLimit, effect: 'lockout' });
      }
      if (endUser?.ip) {
        const key = `end_user_ip:${clientId}:${endUser.ip}`;
        rules.push({ key, scope: 'end_user_ip', limit: endUserLimit, effect: 'lockout' });
      }
      if (endUser?.deviceId) {
        const key = `device:${clientId}:${endUser.deviceId}`;
        rules.push({ key, scope: 'device', limit: endUserLimit, effect: 'lockout' });
      }
    }
    if (ip) rules.push({ key: `ip:${ip}`, scope: 'ip', limit: config.REDEMPTION_IP_FAILURE_LIMIT, effect: 'slowdown' });
    return rules;
  }

  /**
   * 429 too_many_failed_attempts, with Retry-After, while a holder or end-user key of the source is cooling down;
   * a wait of REDEMPTION_SLOWDOWN_MS while the channel (or its IP) is. One store read when nothing is blocked.
   */
  async assertAllowed(source: AttemptSource): Promise<void> {
    const rules = this.rules(source);
    if (rules.length === 0) return;
    if ((await this.store.blockedForMs(rules.map((rule) => rule.key))) === 0) return;
    const lockoutKeys = rules.filter((rule) => rule.effect === 'lockout').map((rule) => rule.key);
    const lockedMs = lockoutKeys.length > 0 ? await this.store.blockedForMs(lockoutKeys) : 0;
    if (lockedMs > 0) throw tooManyFailures(Math.ceil(lockedMs / 1000));
    await sleep(this.config.REDEMPTION_SLOWDOWN_MS);
  }

  /**
   * Counts a failed attempt against every key of the source; a key that reaches its limit starts a cool-down, or a
   * slow-down (raised as channel.under_attack for a client).
   */
  async recordFailure(ctx: RequestContext, source: AttemptSource): Promise<void> {
    const windowMs = this.config.REDEMPTION_FAILURE_WINDOW_SECONDS * 1000;
    const lockMs = this.config.REDEMPTION_LOCKOUT_SECONDS * 1000;
    for (const rule of this.rules(source)) {
      const { failures, newlyBlocked } = await this.store.fail(rule.key, rule.limit, windowMs, lockMs);
      if (!newlyBlocked) continue;
      // The key names a client, a holder account, an IP or a device: no card data.
      if (rule.effect === 'lockout') {
        this.lockouts.inc({ scope: rule.scope });
        this.logger.warn({ msg: 'redemption attempts locked out', scope: rule.scope, key: rule.key });
        continue;
      }
      this.underAttack.inc({ scope: rule.scope });
      this.logger.warn({ msg: 'redemption channel under attack: slowed down', scope: rule.scope, key: rule.key });
      if (rule.scope === 'client' && source.clientId) await this.raiseUnderAttack(ctx, source.clientId, failures);
    }
  }

  /** A card frozen for too many wrong PINs, in the lockout metric. */
  countCardFrozen(): void {
    this.lockouts.inc({ scope: 'card' });
  }

  /** The operator's record that a channel passed its failure limit: who, how many failures, for how long. */
  private async raiseUnderAttack(ctx: RequestContext, clientId: string, failures: number): Promise<void> {
    await this.audit.record(ctx, {
      action: 'channel.under_attack',
      objectType: 'api_client',
      objectId: clientId,
      summary: {
        failures,
        window_seconds: this.config.REDEMPTION_FAILURE_WINDOW_SECONDS,
        slowdown_ms: this.config.REDEMPTION_SLOWDOWN_MS,
        slowdown_seconds: this.config.REDEMPTION_LOCKOUT_SECONDS,
      },
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.store.close();
  }
}

export function tooManyFailures(retryAfterSeconds: number): ApiError {
  return new ApiError(
    429,
    'too_many_failed_attempts',
    `Too many failed card attempts; try again in ${retryAfterSeconds} s`,
    { retry_after: retryAfterSeconds },
    { 'retry-after': String(retryAfterSeconds) },
  );
}
