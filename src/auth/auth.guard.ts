import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { Actor } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { PUBLIC_KEY, SCOPES_KEY } from './auth.decorators';
import type { FastifyRequest } from 'fastify';
import { ApiClientsService } from './api-clients.service';
import { bearerToken } from './jwt.strategy';
import type { Scope } from './scopes';
import { VerifiedTokens } from './verified-tokens';

const INVALID_TOKEN = 'The access token is invalid or its client is no longer active';

/** What a route asks of its caller, from its @Public() and @RequireScopes() metadata. */
interface RouteRequirement {
  isPublic: boolean;
  scopes: readonly Scope[];
}

/**
 * Global guard: every route needs a valid bearer token unless marked @Public(),
 * and the token must carry the scopes the route names with @RequireScopes().
 */
@Injectable()
export class AccessTokenGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly verified: VerifiedTokens,
    private readonly clients: ApiClientsService,
  ) {
    super();
  }

  /** Metadata never changes after boot: read once per controller and handler, not on every request. */
  private readonly requirements = new WeakMap<object, WeakMap<object, RouteRequirement>>();

  private requirementOf(context: ExecutionContext): RouteRequirement {
    const controller = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.requirements.get(controller);
    if (!byHandler) this.requirements.set(controller, (byHandler = new WeakMap()));
    let requirement = byHandler.get(handler);
    if (!requirement) {
      const targets = [handler, controller];
      requirement = {
        isPublic: this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_KEY, targets) === true,
        scopes: this.reflector.getAllAndOverride<Scope[] | undefined>(SCOPES_KEY, targets) ?? [],
      };
      byHandler.set(handler, requirement);
    }
    return requirement;
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const requirement = this.requirementOf(context);
    if (requirement.isPublic) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: Actor }>();
    const token = bearerToken(request);
    const known = token ? this.verified.lookup(token) : null;
    if (known) {
      // Signature checked before: only the client's current state is looked at again.
      const actor = await this.clients.actorFor(known.clientId, known.scopes, request.ip);
      if (!actor) throw ApiError.unauthorized('invalid_token', INVALID_TOKEN);
      request.user = actor;
    } else {
      await super.canActivate(context);
    }
    const actor = request.user;
    const missing = requirement.scopes.filter((scope) => !actor?.scopes.has(scope));
    if (missing.length > 0) {
      throw ApiError.forbidden('insufficient_scope', `This call needs the scope ${missing.join(' ')}`);
    }
    return true;
  }

  override handleRequest<T>(error: unknown, actor: T, info: unknown): T {
    if (error instanceof Error) throw error;
    if (error) throw new Error('authentication failed');
    if (!actor) {
      const name = (info as { name?: string } | undefined)?.name;
      if (name === 'TokenExpiredError') throw ApiError.unauthorized('token_expired', 'The access token has expired');
      if (info instanceof Error && info.message === 'No auth token') {
        throw ApiError.unauthorized('missing_token', 'Send an access token as Authorization: Bearer <token>');
      }
      throw ApiError.unauthorized('invalid_token', INVALID_TOKEN);
    }
    return actor;
  }
}
