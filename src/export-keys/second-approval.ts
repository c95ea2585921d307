/**
 * The second pair of eyes that sensitive export steps need (confirming a recipient key, confirming a purge): the
 * operator, or another API client of the same enterprise holding orders:approve. The client that asked for the
 * step never confirms it, so one stolen token cannot do both halves.
 */
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';

/**
 * Throws unless `ctx` may confirm a step of `enterpriseId` that `requestedByClientId` asked for: 404 (as for an
 * unknown id) when the caller belongs to another enterprise, 403 `insufficient_scope` without orders:approve,
 * 403 `self_confirmation_not_allowed` for the requesting client itself.
 */
export function assertSecondApprover(
  ctx: RequestContext,
  enterpriseId: string,
  requestedByClientId: string,
  notFound: () => ApiError,
): void {
  if (ctx.isOperator) return;
  if (ctx.actor?.enterpriseId !== enterpriseId) throw notFound();
  if (!ctx.actor.scopes.has('orders:approve')) {
    throw ApiError.forbidden('insufficient_scope', 'Confirming needs the scope orders:approve (or the operator)');
  }
  if (ctx.actor.clientId === requestedByClientId) {
    throw ApiError.forbidden(
      'self_confirmation_not_allowed',
      'This step is confirmed by a different API client than the one that asked for it',
    );
  }
}
