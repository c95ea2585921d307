import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/context/request-context';
import type { IdempotencyClaim, StoredResponse } from './idempotency.repository';

/** Route metadata of @Idempotent({ storedByHandler: true }). */
export const STORED_BY_HANDLER = 'fuli:idempotency-stored-by-handler';

/**
 * The Idempotency-Key a request holds while its handler runs, for a handler that looks it up and stores the
 * response in its own single statement (routes marked @Idempotent({ storedByHandler: true })): the interceptor
 * opens the claim, the handler takes it into its statement and reports what the statement found: the response
 * stored with its writes, or one stored before (to be replayed instead of the handler's answer).
 */
@Injectable()
export class IdempotencyClaims {
  private readonly open = new WeakMap<RequestContext, ClaimState>();

  begin(ctx: RequestContext, claim: IdempotencyClaim): void {
    this.open.set(ctx, { claim, outcome: undefined });
  }

  /** The claim the handler must look up and store with its writes, if the request came with an Idempotency-Key. */
  pending(ctx: RequestContext): IdempotencyClaim | undefined {
    const entry = this.open.get(ctx);
    return entry && !entry.outcome ? entry.claim : undefined;
  }

  markStored(ctx: RequestContext): void {
    const entry = this.open.get(ctx);
    if (entry) entry.outcome = { stored: true };
  }

  /** The key was stored by an earlier request: its response is the answer. */
  markReplay(ctx: RequestContext, earlier: StoredResponse): void {
    const entry = this.open.get(ctx);
    if (entry) entry.outcome = { stored: false, earlier };
  }

  /** Ends the claim; what the handler reported (undefined: nothing, a programming error). */
  end(ctx: RequestContext): ClaimState['outcome'] {
    const entry = this.open.get(ctx);
    this.open.delete(ctx);
    return entry?.outcome;
  }
}

interface ClaimState {
  claim: IdempotencyClaim;
  outcome: { stored: true } | { stored: false; earlier: StoredResponse } | undefined;
}
