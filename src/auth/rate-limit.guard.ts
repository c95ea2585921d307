import { ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerRequest } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from './jwt.strategy';
import { VerifiedTokens, type VerifiedClaims } from './verified-tokens';
import { AppConfig } from '../config/app-config';
import type { Actor } from '../common/context/request-context';

const UNTHROTTLED = /^\/health(\/|$)/;

type Budget = Omit<ThrottlerRequest, 'context' | 'getTracker'>;
/**
 * `verifiedClaims`: the token was verified before, found by the per-IP guard (which then charged its client's
 * budget); the token guard reads them from here instead of looking the token up again.
 */
type Request = FastifyRequest & { user?: Actor; verifiedClaims?: VerifiedClaims };

/** Whose budget a request spends, and its size. */
interface Spender {
  tracker: string;
  limit: number;
}

/**
 * Budgets of RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_SECONDS (per IP: RATE_LIMIT_IP_REQUESTS), announced in
 * RateLimit-Limit / -Remaining / -Reset and answered with 429 + Retry-After when spent. The subclasses say whose
 * budget a request spends; it never spends its client's twice.
 */
abstract class BudgetGuard extends ThrottlerGuard {
  protected override headerPrefix = 'RateLimit';
  private budget!: Budget;
  @Inject(AppConfig) protected readonly config!: AppConfig;

  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    const [throttler, ...others] = this.throttlers;
    const { limit, ttl, blockDuration } = throttler;
    // The base class binds its own generateKey (ours, overridden below) into commonOptions.
    const { generateKey } = this.commonOptions;
    if (others.length > 0 || typeof limit !== 'number' || typeof ttl !== 'number' || !generateKey) {
      throw new Error('Rate-limit guards expect exactly one throttler with a numeric limit and ttl');
    }
    const block = typeof blockDuration === 'number' ? blockDuration : ttl;
    this.budget = { throttler, limit, ttl, blockDuration: block, generateKey };
  }

  /** The budget this request spends here, or null when it spends none here. */
  protected abstract spender(request: Request): Spender | null;

  /**
   * The stock guard reads ten pieces of route metadata per request for per-route @Throttle / @SkipThrottle
   * overrides. Fuli uses neither, so that work (a fifth of a cached-token request's CPU) is skipped; counting,
   * headers and the 429 stay the library's.
   */
  override canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    if (UNTHROTTLED.test(request.url)) return Promise.resolve(true);
    return this.spend(context, request);
  }

  /**
   * The same budget on a route Fastify serves outside Nest's guards (the /docs pages Swagger UI registers), with the
   * same headers, and a ThrottlerException (429) when spent.
   */
  limitPlainRoute(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    return this.spend(new ExecutionContextHost([request, reply]), request);
  }

  private spend(context: ExecutionContext, request: Request): Promise<boolean> {
    const spender = this.spender(request);
    if (!spender) return Promise.resolve(true);
    const { tracker, limit } = spender;
    return this.handleRequest({ context, ...this.budget, limit, getTracker: () => Promise.resolve(tracker) });
  }

  /**
   * The library sets only Retry-After on a 429: announce the spent budget in the same RateLimit-* headers as every
   * other answer (Remaining 0, Reset when requests pass again), so that a client reads one set of headers.
   */
  protected override throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    void reply.header(`${this.headerPrefix}-Limit`, detail.limit);
    void reply.header(`${this.headerPrefix}-Remaining`, 0);
    void reply.header(`${this.headerPrefix}-Reset`, detail.timeToBlockExpire || detail.timeToExpire);
    return super.throwThrottlingException(context, detail);
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttler: string): string {
    return `fuli:rate:${throttler}:${tracker}`;
  }

  protected clientSpender(clientId: string): Spender {
    return { tracker: `client:${clientId}`, limit: this.config.RATE_LIMIT_REQUESTS };
  }
}

/**
 * Before the token guard, so that refused calls and the ES256 verification behind a new or bad token are limited
 * too: a call whose token was verified before spends its client's budget (the token names the client, and its
 * signature is known good), anything else (token requests, public routes, a missing, bad or new token) its IP's.
 */
@Injectable()
export class IpRateLimitGuard extends BudgetGuard {
  // Injected as a property: ThrottlerGuard's constructor parameters stay as the library declares them.
  @Inject(VerifiedTokens) private readonly verified!: VerifiedTokens;

  protected spender(request: Request): Spender {
    const token = bearerToken(request);
    const known = token === null ? null : this.verified.lookup(token);
    if (known) {
      request.verifiedClaims = known;
      return this.clientSpender(known.clientId);
    }
    return {
      tracker: `ip:${request.ip}`,
      limit: this.config.RATE_LIMIT_IP_REQUESTS ?? this.config.RATE_LIMIT_REQUESTS,
    };
  }
}

/**
 * After the token guard and before the scope checks (so 403s spend it too): the client's budget, for a call whose
 * token the token guard has just verified for the first time (its IP's budget was spent before).
 */
@Injectable()
export class RateLimitGuard extends BudgetGuard {
  protected spender(request: Request): Spender | null {
    return request.user && !request.verifiedClaims ? this.clientSpender(request.user.clientId) : null;
  }
}
