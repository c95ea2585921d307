import { Injectable } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { isScope } from '../common/access/scopes';
import type { Actor } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import type { ErrorCode } from '../common/errors/messages';
import { AppConfig } from '../config/app-config';
import { ApiClientsService } from './api-clients.service';
import { SigningKeyService, TOKEN_AUDIENCE } from './signing-key.service';
import { TokenFailures } from './token-failures';
import { VerifiedTokens } from './verified-tokens';

/** What the browser is asked for when it sends nothing: the operator client's id and secret. */
const CHALLENGE = 'Basic realm="Fuli operator", charset="UTF-8", Bearer';

const unauthenticated = (code: ErrorCode, detail: string) =>
  new ApiError(401, code, detail, {}, { 'www-authenticate': CHALLENGE });

/**
 * The operator's credential on pages served outside the API's routes and guards (the queue dashboard): an active
 * operator client holding `admin`, shown either as an access token (`Authorization: Bearer`, checked as the API
 * checks it) or, so that a browser can open the page, as its client id and secret (`Authorization: Basic`, checked
 * as the token endpoint checks them: failures count against the same per-client budget, TOKEN_FAILURE_LIMIT).
 */
@Injectable()
export class OperatorCredentials {
  constructor(
    private readonly clients: ApiClientsService,
    private readonly keys: SigningKeyService,
    private readonly config: AppConfig,
    private readonly failures: TokenFailures,
    private readonly verified: VerifiedTokens,
  ) {}

  /** The operator behind the Authorization header; 401 without a valid credential, 403 for anyone but an operator. */
  async check(authorization: string | undefined, ip: string | null): Promise<Actor> {
    let actor: Actor | null;
    if (authorization?.startsWith('Basic ')) actor = await this.fromBasic(authorization.slice(6), ip);
    else if (authorization?.startsWith('Bearer ')) actor = await this.fromBearer(authorization.slice(7), ip);
    else throw unauthenticated('missing_token', 'Sign in with the operator client id and secret, or a bearer token');
    if (!actor) throw unauthenticated('invalid_token', 'The credential is invalid or its client is no longer active');
    if (!actor.scopes.has('admin')) throw ApiError.forbidden('insufficient_scope', 'This page needs the scope admin');
    if (actor.enterpriseId !== null) {
      throw ApiError.forbidden('operator_client_required', 'This page is for platform (operator) API clients');
    }
    return actor;
  }

  private async fromBasic(encoded: string, ip: string | null): Promise<Actor | null> {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return null;
    let clientId: string;
    let secret: string;
    try {
      // RFC 6749 §2.3.1: both parts are form-encoded, as at the token endpoint.
      clientId = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    } catch {
      return null;
    }
    await this.failures.assertAllowed(clientId);
    const authenticated = await this.clients.authenticate(clientId, secret, ip);
    if (!authenticated) {
      await this.failures.record(clientId);
      return null;
    }
    if (authenticated.enterpriseSuspended) return null;
    return this.clients.actorFor(clientId, authenticated.client.scopes, ip, authenticated.secretId);
  }

  private async fromBearer(token: string, ip: string | null): Promise<Actor | null> {
    let claims = this.verified.lookup(token);
    if (!claims) {
      const kid = jwt.decode(token, { complete: true })?.header.kid;
      const key = this.keys.publicKeyFor(kid);
      if (!key) return null;
      let payload: jwt.JwtPayload;
      try {
        payload = jwt.verify(token, key, {
          algorithms: ['ES256'],
          issuer: this.config.JWT_ISSUER,
          audience: TOKEN_AUDIENCE,
        }) as jwt.JwtPayload;
      } catch {
        return null;
      }
      if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number') return null;
      claims = {
        clientId: payload.sub,
        scopes: String(payload.scope ?? '')
          .split(' ')
          .filter(isScope),
        expiresAt: payload.exp * 1000,
        secretId: typeof payload.sid === 'string' ? payload.sid : undefined,
      };
      this.verified.remember(token, claims);
    }
    return this.clients.actorFor(claims.clientId, claims.scopes, ip, claims.secretId);
  }
}
