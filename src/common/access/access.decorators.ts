import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import {
  ApiForbiddenResponse,
  ApiOAuth2,
  ApiOperation,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Problem } from '../errors/problem';
import { contextOf } from '../context/context-of';
import { OPERATOR_SCOPES, type Scope } from './scopes';

export const PUBLIC_KEY = 'fuli:public';
export const SCOPES_KEY = 'fuli:scopes';

/** No token needed (token endpoint, JWKS, health, docs); documented as `security: []`. */
export const Public = () =>
  applyDecorators(
    SetMetadata(PUBLIC_KEY, true),
    // `summary: undefined` stops ApiOperation's default summary from replacing the handler's own when merged.
    ApiOperation({ summary: undefined, security: [] }),
  );

/**
 * The caller's token must carry every listed scope (none: any valid token);
 * documents the bearer requirement and its errors.
 */
export function RequireScopes(...scopes: Scope[]) {
  const refusals = [
    ...(scopes.length > 0 ? [`insufficient_scope: the token lacks ${scopes.join(', ')}`] : []),
    ...(scopes.some((scope) => OPERATOR_SCOPES.includes(scope))
      ? ['operator_client_required: only platform (operator) clients may call this']
      : ["enterprise_suspended: the caller's enterprise is suspended (it may only read, and never card codes)"]),
  ];
  return applyDecorators(
    SetMetadata(SCOPES_KEY, scopes),
    // The scopes go into the document: src/docs/openapi.ts offers the OAuth 2.0 flow or a pasted bearer token.
    ApiOAuth2(scopes, 'oauth2'),
    ApiUnauthorizedResponse({ type: Problem, description: 'Missing, expired or invalid access token' }),
    ApiForbiddenResponse({ type: Problem, description: refusals.join('; ') }),
    ApiTooManyRequestsResponse({ type: Problem, description: 'Rate limit exceeded; see Retry-After' }),
  );
}

/** Injects the RequestContext of the current request. */
export const Ctx = createParamDecorator((_: unknown, host: ExecutionContext) =>
  contextOf(host.switchToHttp().getRequest<FastifyRequest>()),
);
