import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** RFC 6749 §4.4.2 request; sent as a form or as JSON. Client credentials may come in HTTP Basic instead. */
export class TokenRequestDto {
  @ApiProperty({ enum: ['client_credentials'] })
  grant_type: string;

  @ApiPropertyOptional({ example: 'cli_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  client_id?: string;

  @ApiPropertyOptional()
  client_secret?: string;

  @ApiPropertyOptional({ description: "Space-separated subset of the client's scopes; default all of them" })
  scope?: string;
}

export class TokenResponseDto {
  @ApiProperty()
  access_token: string;

  @ApiProperty({ enum: ['Bearer'] })
  token_type: 'Bearer';

  @ApiProperty({ example: 900 })
  expires_in: number;

  @ApiProperty({ example: 'products:read orders:read' })
  scope: string;
}

/** RFC 6749 §5.2 error, with this API's problem fields beside it. */
export class TokenErrorDto {
  @ApiProperty({
    enum: [
      'invalid_request',
      'invalid_client',
      'invalid_grant',
      'unauthorized_client',
      'unsupported_grant_type',
      'invalid_scope',
    ],
  })
  error: string;

  @ApiProperty()
  error_description: string;

  @ApiProperty()
  code: string;

  @ApiProperty()
  status: number;

  @ApiProperty()
  request_id: string;
}

export class JwkDto {
  @ApiProperty({ example: 'EC' }) kty: string;
  @ApiProperty({ example: 'P-256' }) crv: string;
  @ApiProperty() x: string;
  @ApiProperty() y: string;
  @ApiProperty() kid: string;
  @ApiProperty({ example: 'sig' }) use: string;
  @ApiProperty({ example: 'ES256' }) alg: string;
}

export class JwksDto {
  @ApiProperty({ type: [JwkDto] })
  keys: JwkDto[];
}
