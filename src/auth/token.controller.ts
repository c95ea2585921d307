import { Body, Controller, Get, Header, HttpCode, Post, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../common/errors/api-error';
import { Problem } from '../common/errors/problem';
import { Public } from '../common/access/access.decorators';
import { JwksDto, TokenErrorDto, TokenRequestDto, TokenResponseDto } from './dto/token.dto';
import { SigningKeyService } from './signing-key.service';
import { TokenService } from './token.service';

function basicCredentials(header: string | undefined): { id: string; secret: string } | null {
  if (!header?.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  // RFC 6749 §2.3.1: both parts are form-url-encoded before Basic encoding.
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    throw ApiError.oauth(
      400,
      'invalid_request',
      'The Basic credentials are not form-url-encoded (RFC 6749 §2.3.1): a % must start a valid escape',
    );
  }
}

@ApiTags('auth')
@Controller()
export class TokenController {
  constructor(
    private readonly tokens: TokenService,
    private readonly keys: SigningKeyService,
  ) {}

  @Public()
  @Post('v1/oauth/token')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Get an access token (OAuth 2.0 client credentials)',
    description:
      'Send the client id and secret in HTTP Basic (RFC 6749 §2.3.1) or as `client_id` and `client_secret` fields. ' +
      'Tokens are short-lived: request a new one when `expires_in` runs out.',
    operationId: 'createToken',
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody({ type: TokenRequestDto })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiBadRequestResponse({
    type: TokenErrorDto,
    description: 'invalid_request, unsupported_grant_type or invalid_scope',
  })
  @ApiUnauthorizedResponse({
    type: TokenErrorDto,
    description:
      'invalid_client: unknown or revoked client, wrong secret or an address outside its allow-list (all ' +
      "answered alike), or the client's enterprise is suspended",
  })
  @ApiTooManyRequestsResponse({
    type: Problem,
    description:
      "rate_limited: the caller's IP address is over its rate limit; too_many_failed_attempts: this client id " +
      'failed too often in the window and is refused without its secret being checked. See Retry-After',
  })
  token(@Body() body: Record<string, unknown> | undefined, @Req() request: FastifyRequest): Promise<TokenResponseDto> {
    const basic = basicCredentials(request.headers.authorization);
    const form = body ?? {};
    return this.tokens.issue(
      {
        grantType: form.grant_type,
        clientId: basic?.id ?? form.client_id,
        clientSecret: basic?.secret ?? form.client_secret,
        scope: form.scope,
        basic: basic !== null,
      },
      request.ip,
    );
  }

  @Public()
  @Get('.well-known/jwks.json')
  @Header('cache-control', 'public, max-age=300')
  @ApiOperation({ summary: 'Public keys that verify access tokens', operationId: 'getJwks' })
  @ApiOkResponse({ type: JwksDto })
  @ApiTooManyRequestsResponse({
    type: Problem,
    description: "Rate limit of the caller's IP address exceeded; see Retry-After",
  })
  jwks(): JwksDto {
    const { kty, crv, x, y, kid, use, alg } = this.keys.publicJwk;
    return { keys: [{ kty: kty!, crv: crv!, x: x!, y: y!, kid, use, alg }] };
  }
}
