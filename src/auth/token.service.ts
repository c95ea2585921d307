import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ApiError } from '../common/errors/api-error';
import { newId } from '../common/ids';
import { ApiClientsService } from './api-clients.service';
import type { TokenResponseDto } from './dto/token.dto';
import { isScope, type Scope } from '../common/access/scopes';
import { SigningKeyService } from './signing-key.service';
import { TokenFailures } from './token-failures';

export interface TokenRequest {
  grantType: unknown;
  clientId: unknown;
  clientSecret: unknown;
  scope: unknown;
  /** Credentials came in an Authorization: Basic header (answer 401 with a Basic challenge). */
  basic: boolean;
}

/** OAuth 2.0 client-credentials grant (RFC 6749 §4.4) issuing short-lived ES256 JWTs. */
@Injectable()
export class TokenService {
  constructor(
    private readonly clients: ApiClientsService,
    private readonly keys: SigningKeyService,
    private readonly config: AppConfig,
    private readonly failures: TokenFailures,
  ) {}

  async issue(request: TokenRequest, ip: string | null): Promise<TokenResponseDto> {
    if (typeof request.grantType !== 'string' || request.grantType === '') {
      throw ApiError.oauth(400, 'invalid_request', 'grant_type is required');
    }
    if (request.grantType !== 'client_credentials') {
      throw ApiError.oauth(400, 'unsupported_grant_type', 'Only the client_credentials grant is supported');
    }
    if (
      typeof request.clientId !== 'string' ||
      typeof request.clientSecret !== 'string' ||
      !request.clientId ||
      !request.clientSecret
    ) {
      throw ApiError.oauth(
        400,
        'invalid_request',
        'client_id and client_secret are required (form, JSON or HTTP Basic)',
      );
    }
    if (request.scope !== undefined && typeof request.scope !== 'string') {
      throw ApiError.oauth(400, 'invalid_request', 'scope must be a space-separated string');
    }
    // Over budget: refused before any secret is checked.
    await this.failures.assertAllowed(request.clientId);
    try {
      const authenticated = await this.clients.authenticate(request.clientId, request.clientSecret, ip);
      if (!authenticated) {
        await this.failures.record(request.clientId);
        throw ApiError.oauth(401, 'invalid_client', 'Client authentication failed');
      }
      const { client, secretId } = authenticated;
      if (authenticated.enterpriseSuspended) {
        throw ApiError.oauth(
          401,
          'invalid_client',
          "The client's enterprise is suspended; it gets no tokens until an operator re-activates it",
        );
      }
      const scopes = this.grantedScopes(client.scopes, request.scope);
      const ttl = this.config.ACCESS_TOKEN_TTL_SECONDS;
      const token = this.keys.sign(
        {
          sub: client.id,
          scope: scopes.join(' '),
          ...(client.enterpriseId ? { ent: client.enterpriseId } : {}),
          sid: secretId,
        },
        ttl,
        newId('request').replace('req_', 'tok_'),
      );
      return { access_token: token, token_type: 'Bearer', expires_in: ttl, scope: scopes.join(' ') };
    } catch (error) {
      if (request.basic && error instanceof ApiError && error.getStatus() === 401) {
        throw ApiError.oauth(401, 'invalid_client', error.detail, { 'www-authenticate': 'Basic realm="fuli"' });
      }
      throw error;
    }
  }

  private grantedScopes(clientScopes: Scope[], requested: string | undefined): Scope[] {
    if (requested === undefined || requested.trim() === '') return clientScopes;
    const asked = [...new Set(requested.trim().split(/\s+/))];
    const refused = asked.filter((scope) => !isScope(scope) || !clientScopes.includes(scope));
    if (refused.length > 0) {
      throw ApiError.oauth(400, 'invalid_scope', `This client may not request: ${refused.join(', ')}`);
    }
    return asked as Scope[];
  }
}
