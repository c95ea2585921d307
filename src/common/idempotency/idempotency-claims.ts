import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../context/request-context';
import type { IdempotencyClaim } from './idempotency.repository';

/** Route metadata of @Idempotent({ storedByHandler: true }). */
export const STORED_BY_HANDLER = 'fuli:idempotency-stored-by-handler';

/**
 * The Idempotency-Key a request holds while its handler runs, for a handler that stores the response in its own
 * single statement (routes marked @Idempotent({ storedByHandler: true })): the interceptor opens the claim, the
 * handler takes it into its statement and marks it stored once that statement has run.
 */
@Injectable()
export class IdempotencyClaims {
  private readonly open = new WeakMap<RequestContext, { claim: IdempotencyClaim; stored: boolean }>();

  begin(ctx: RequestContext, claim: IdempotencyClaim): void {
    this.open.set(ctx, { claim, stored: false });
  }

  /** The claim the handler must store with its writes, if the request came with an Idempotency-Key. */
  pending(ctx: RequestContext): IdempotencyClaim | undefined {
    const entry = this.open.get(ctx);
    return entry && !entry.stored ? entry.claim : undefined;
  }

  markStored(ctx: RequestContext): void {
    const entry = this.open.get(ctx);
    if (entry) entry.stored = true;
  }

  /** Ends the claim; whether the handler stored it. */
  end(ctx: RequestContext): boolean {
    const entry = this.open.get(ctx);
    this.open.delete(ctx);
    return entry?.stored ?? false;
  }
}
