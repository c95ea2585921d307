import { ExecutionContext, Injectable } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { ThrottlerGuard, type ThrottlerRequest } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../context/request-context';

const UNTHROTTLED = /^\/health(\/|$)/;

type Budget = Omit<ThrottlerRequest, 'context'>;

/**
 * Per-client rate limit (per IP before authentication, e.g. the token endpoint),
 * one budget across all routes, announced in RateLimit-Limit / -Remaining / -Reset
 * and answered with 429 + Retry-After when spent. Runs after the token guard.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override headerPrefix = 'RateLimit';
  private budget!: Budget;

  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    const [throttler, ...others] = this.throttlers;
    const { limit, ttl, blockDuration } = throttler;
    // The base class binds its own getTracker and generateKey (ours, overridden below) into commonOptions.
    const { getTracker, generateKey } = this.commonOptions;
    if (others.length > 0 || typeof limit !== 'number' || typeof ttl !== 'number' || !getTracker || !generateKey) {
      throw new Error('RateLimitGuard expects exactly one throttler with a numeric limit and ttl');
    }
    const block = typeof blockDuration === 'number' ? blockDuration : ttl;
    this.budget = { throttler, limit, ttl, blockDuration: block, getTracker, generateKey };
  }

  /**
   * The stock guard reads ten pieces of route metadata per request for per-route @Throttle / @SkipThrottle
   * overrides. Fuli has one budget for every route and uses neither, so that work (a fifth of a cached-token
   * request's CPU) is skipped; counting, headers and the 429 stay the library's.
   */
  override canActivate(context: ExecutionContext): Promise<boolean> {
    const url = context.switchToHttp().getRequest<{ url: string }>().url;
    if (UNTHROTTLED.test(url)) return Promise.resolve(true);
    return this.handleRequest({ context, ...this.budget });
  }

  /**
   * The same budget on a route Fastify serves outside Nest's guards (the /docs pages Swagger UI registers): counted
   * per IP like any call without a token, with the same headers, and a ThrottlerException (429) when spent.
   */
  limitPlainRoute(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    return this.handleRequest({ context: new ExecutionContextHost([request, reply]), ...this.budget });
  }

  protected override getTracker(request: { user?: Actor; ip: string }): Promise<string> {
    return Promise.resolve(request.user ? `client:${request.user.clientId}` : `ip:${request.ip}`);
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttler: string): string {
    return `fuli:rate:${throttler}:${tracker}`;
  }
}
