import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import jwt from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AppConfig } from '../config/app-config';
import type { Actor } from '../common/context/request-context';
import { ApiClientsService } from './api-clients.service';
import { isScope } from '../common/access/scopes';
import { SigningKeyService, TOKEN_AUDIENCE } from './signing-key.service';
import { VerifiedTokens } from './verified-tokens';

interface AccessTokenPayload {
  sub: string;
  scope?: string;
  exp: number;
  sid?: string;
}

/** Verifies the bearer JWT against the key its `kid` names, then maps it to a live actor. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    keys: SigningKeyService,
    config: AppConfig,
    private readonly clients: ApiClientsService,
    private readonly verified: VerifiedTokens,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: ['ES256'],
      issuer: config.JWT_ISSUER,
      audience: TOKEN_AUDIENCE,
      passReqToCallback: true,
      // jsonwebtoken takes the KeyObject as it is: no PEM round trip per request.
      secretOrKeyProvider: (_request: unknown, rawToken: string, done: (error: unknown, key?: string) => void) => {
        const decoded = jwt.decode(rawToken, { complete: true });
        done(null, (keys.publicKeyFor(decoded?.header.kid) ?? undefined) as string | undefined);
      },
    });
  }

  async validate(request: FastifyRequest, payload: AccessTokenPayload): Promise<Actor | false> {
    const scopes = (payload.scope ?? '').split(' ').filter(isScope);
    const token = bearerToken(request);
    const secretId = typeof payload.sid === 'string' ? payload.sid : undefined;
    if (token) {
      this.verified.remember(token, { clientId: payload.sub, scopes, expiresAt: payload.exp * 1000, secretId });
    }
    return (await this.clients.actorFor(payload.sub, scopes, request.ip, secretId)) ?? false;
  }
}

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7) : null;
}
