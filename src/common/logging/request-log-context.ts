import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The id of the HTTP request being served, for every log line written while serving it (pino's mixin reads it, see
 * createLogger), so that a request's lines join up by `reqId` whichever module writes them.
 */
const requestIds = new AsyncLocalStorage<string>();

/** Runs `next` (and everything it starts) as part of request `id`. */
export function runInRequest<T>(id: string, next: () => T): T {
  return requestIds.run(id, next);
}

/** The id of the request this code runs for, if any. */
export function currentRequestId(): string | undefined {
  return requestIds.getStore();
}
