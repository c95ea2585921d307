import type { FastifyRequest } from 'fastify';
import { RequestContext, type Actor } from './request-context';

const CONTEXT = Symbol('fuli.requestContext');

type WithContext = FastifyRequest & { [CONTEXT]?: RequestContext; user?: Actor };

/** One RequestContext per request, created on first use, so guards, interceptors and handlers share it. */
export function contextOf(request: FastifyRequest): RequestContext {
  const holder = request as WithContext;
  holder[CONTEXT] ??= new RequestContext(String(request.id), holder.user ?? null, request.ip);
  return holder[CONTEXT];
}
