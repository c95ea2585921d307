import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { Actor } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { PUBLIC_KEY, SCOPES_KEY } from '../common/access/access.decorators';
import type { FastifyRequest } from 'fastify';
import { ApiClientsService } from './api-clients.service';
import { bearerToken } from './jwt.strategy';
import { OPERATOR_SCOPES, type Scope } from '../common/access/scopes';
import { VerifiedTokens, type VerifiedClaims } from './verified-tokens';

const INVALID_TOKEN = 'The access token is invalid or its client is no longer active';

/** What a route asks of its caller, from its @Public() and @RequireScopes() metadata. */
interface RouteRequirement {
  isPublic: boolean;
  scopes: readonly Scope[];
  /** The route needs an operator scope (`admin`, `redemptions:write`): only operator clients may call it. */
  operatorOnly: boolean;
  /** The route hands out card codes (`cards:secrets`): closed to suspended tenants although it may be a read. */
  releasesSecrets: boolean;
}

/** Route metadata never changes after boot: read once per controller and handler, not on every request. */
@Injectable()
export class RouteRequirements {
  private readonly requirements = new WeakMap<object, WeakMap<object, RouteRequirement>>();

  constructor(private readonly reflector: Reflector) {}

  of(context: ExecutionContext): RouteRequirement {
    const controller = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.requirements.get(controller);
    if (!byHandler) this.requirements.set(controller, (byHandler = new WeakMap()));
    let requirement = byHandler.get(handler);
    if (!requirement) {
      const targets = [handler, controller];
      const scopes = this.reflector.getAllAndOverride<Scope[] | undefined>(SCOPES_KEY, targets) ?? [];
      requirement = {
        isPublic: this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_KEY, targets) === true,
        scopes,
        operatorOnly: scopes.some((scope) => OPERATOR_SCOPES.includes(scope)),
        releasesSecrets: scopes.includes('cards:secrets'),
      };
      byHandler.set(handler, requirement);
    }
    return requirement;
  }
}

/**
 * Global guard: every route needs a valid bearer token unless marked @Public(). It only authenticates; what the
 * caller may do is AccessRulesGuard's, after the per-client rate limit, so refused calls spend that budget too.
 */
@Injectable()
export class AccessTokenGuard extends AuthGuard('jwt') {
  constructor(
    private readonly routes: RouteRequirements,
    private readonly verified: VerifiedTokens,
    private readonly clients: ApiClientsService,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.routes.of(context).isPublic) return true;
    const request = context
      .switchToHttp()
      .getRequest<FastifyRequest & { user?: Actor; verifiedClaims?: VerifiedClaims }>();
    // The per-IP rate-limit guard, which runs first, has looked the token up already when it was verified before.
    const token = request.verifiedClaims ? null : bearerToken(request);
    const known = request.verifiedClaims ?? (token ? this.verified.lookup(token) : null);
    if (known) {
      // Signature checked before: only the client's current state is looked at again.
      const actor = await this.clients.actorFor(known.clientId, known.scopes, request.ip, known.secretId);
      if (!actor) throw ApiError.unauthorized('invalid_token', INVALID_TOKEN);
      request.user = actor;
    } else {
      await super.canActivate(context);
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

/** Methods a suspended tenant may still call: its reads stay open (see README, "Suspending an enterprise"). */
const READS = new Set(['GET', 'HEAD']);

/**
 * Global guard after the per-client rate limit: the token carries every scope the route names, operator routes
 * get an operator client, and a suspended tenant only reads (and never card codes).
 */
@Injectable()
export class AccessRulesGuard implements CanActivate {
  constructor(
    private readonly routes: RouteRequirements,
    private readonly clients: ApiClientsService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const requirement = this.routes.of(context);
    if (requirement.isPublic) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: Actor }>();
    const actor = request.user;
    if (!actor) throw ApiError.unauthorized('invalid_token', INVALID_TOKEN);
    const missing = requirement.scopes.filter((scope) => !actor.scopes.has(scope));
    if (missing.length > 0) {
      throw ApiError.forbidden('insufficient_scope', `This call needs the scope ${missing.join(' ')}`);
    }
    if (requirement.operatorOnly && actor.enterpriseId !== null) {
      throw ApiError.forbidden('operator_client_required', 'This endpoint is for platform (operator) API clients');
    }
    if (
      actor.enterpriseId !== null &&
      (!READS.has(request.method) || requirement.releasesSecrets) &&
      this.clients.isSuspended(actor)
    ) {
      throw ApiError.forbidden(
        'enterprise_suspended',
        `Enterprise '${actor.enterpriseId}' is suspended: its clients may only read until an operator re-activates it`,
      );
    }
    return true;
  }
}
