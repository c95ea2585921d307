import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import jwt from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AppConfig } from '../config/app-config';
import type { Actor } from '../common/context/request-context';
import { ApiClientsService } from './api-clients.service';
import { isScope } from './scopes';
import { SigningKeyService, TOKEN_AUDIENCE } from './signing-key.service';

interface AccessTokenPayload {
  sub: string;
  scope?: string;
}

/** Verifies the bearer JWT against the key its `kid` names, then maps it to a live actor. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    keys: SigningKeyService,
    config: AppConfig,
    private readonly clients: ApiClientsService,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: ['ES256'],
      issuer: config.JWT_ISSUER,
      audience: TOKEN_AUDIENCE,
      passReqToCallback: true,
      secretOrKeyProvider: (_request: unknown, rawToken: string, done: (error: unknown, key?: string) => void) => {
        const decoded = jwt.decode(rawToken, { complete: true });
        const key = keys.publicKeyFor(decoded?.header.kid);
        if (!key) done(null, undefined);
        else done(null, key.export({ type: 'spki', format: 'pem' }).toString());
      },
    });
  }

  async validate(request: FastifyRequest, payload: AccessTokenPayload): Promise<Actor | false> {
    const scopes = (payload.scope ?? '').split(' ').filter(isScope);
    return (await this.clients.actorFor(payload.sub, scopes, request.ip)) ?? false;
  }
}
