import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { Actor } from '../context/request-context';

const UNTHROTTLED = /^\/(health|metrics|docs)(\/|$)/;

/**
 * Per-client rate limit (per IP before authentication, e.g. the token endpoint),
 * one budget across all routes, announced in RateLimit-Limit / -Remaining / -Reset
 * and answered with 429 + Retry-After when spent. Runs after the token guard.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override headerPrefix = 'RateLimit';

  protected override shouldSkip(context: ExecutionContext): Promise<boolean> {
    const url = context.switchToHttp().getRequest<{ url: string }>().url;
    return Promise.resolve(UNTHROTTLED.test(url));
  }

  protected override getTracker(request: { user?: Actor; ip: string }): Promise<string> {
    return Promise.resolve(request.user ? `client:${request.user.clientId}` : `ip:${request.ip}`);
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttler: string): string {
    return `fuli:rate:${throttler}:${tracker}`;
  }
}
