/**
 * Retries and timeouts, as a fetch: every request the client sends (the token request included) goes through it.
 *
 * A request is retried only when sending it twice is safe: a GET, HEAD, OPTIONS, PUT or DELETE, or a POST/PATCH that
 * carries an Idempotency-Key (the server then answers a repeat with the stored response). It is retried on a network
 * error, a timeout, a 429 or a 503, after an exponential backoff with jitter, or after the server's Retry-After when
 * it gives one.
 */

export interface RetryOptions {
  /** Retries after the first attempt (default 2); 0 turns retries off. */
  maxRetries?: number;
  /** Each attempt's limit in milliseconds (default 30,000); the caller's own AbortSignal still applies. */
  timeoutMs?: number;
  /** The first backoff (default 500 ms); it doubles with each retry, up to maxDelayMs (default 8,000 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this (default 60 s) is not waited for: the 429/503 is returned as it is. */
  maxRetryAfterMs?: number;
}

/** An attempt that ran out of time (after all retries, when the request could be retried). */
export class FuliTimeoutError extends Error {
  override readonly name = 'FuliTimeoutError';
  constructor(
    readonly url: string,
    readonly timeoutMs: number,
  ) {
    super(`${url} did not answer within ${timeoutMs} ms`);
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const RETRIED_STATUSES = new Set([429, 503]);

type Fetch = (request: Request) => Promise<Response>;

export function isRetryable(request: Request): boolean {
  return SAFE_METHODS.has(request.method.toUpperCase()) || request.headers.has('idempotency-key');
}

/** Milliseconds the server asks to wait (delta-seconds or an HTTP date), or undefined. */
export function retryAfterMs(response: Response, now = Date.now()): number | undefined {
  const value = response.headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with "equal jitter": half the step fixed, half random, so clients spread out. */
export function backoffMs(retry: number, baseDelayMs: number, maxDelayMs: number, random = Math.random): number {
  const step = Math.min(maxDelayMs, baseDelayMs * 2 ** retry);
  return step / 2 + random() * (step / 2);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function retryingFetch(fetch: Fetch, options: RetryOptions = {}): Fetch {
  const maxRetries = options.maxRetries ?? 2;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 8_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;

  return async (request: Request): Promise<Response> => {
    const retries = isRetryable(request) ? maxRetries : 0;
    // A body can be read once: every attempt sends a copy of this untouched one (Idempotency-Key included).
    const original = request.clone();
    const callerSignal = request.signal;
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const attemptRequest = new Request(original.clone(), { signal: AbortSignal.any([callerSignal, timeout]) });
      let wait: number | undefined;
      try {
        const response = await fetch(attemptRequest);
        if (!RETRIED_STATUSES.has(response.status) || attempt >= retries) return response;
        const asked = retryAfterMs(response);
        if (asked !== undefined && asked > maxRetryAfterMs) return response;
        wait = asked ?? backoffMs(attempt, baseDelayMs, maxDelayMs);
        await response.body?.cancel();
      } catch (error) {
        // The caller gave up: never retried.
        if (callerSignal.aborted) throw error;
        const timedOut = timeout.aborted;
        if (attempt >= retries) throw timedOut ? new FuliTimeoutError(request.url, timeoutMs) : error;
        wait = backoffMs(attempt, baseDelayMs, maxDelayMs);
      }
      await sleep(wait, callerSignal);
    }
  };
}
