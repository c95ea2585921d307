import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { AppConfig } from '../config/app-config';

export const TOKEN_AUDIENCE = 'fuli-api';

export interface AccessTokenClaims {
  sub: string;
  scope: string;
  ent?: string;
  /** The client secret the token was minted with: the token stops working when that secret does. */
  sid: string;
}

/** RFC 7638 thumbprint: a kid that changes exactly when the key does. */
function thumbprint(jwk: JsonWebKey): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The ES256 key that signs access tokens and the public half published at /.well-known/jwks.json. */
@Injectable()
export class SigningKeyService {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: JsonWebKey & { kid: string; use: 'sig'; alg: 'ES256' };

  constructor(private readonly config: AppConfig) {
    this.privateKey = createPrivateKey(config.JWT_SIGNING_KEY);
    if (
      this.privateKey.asymmetricKeyType !== 'ec' ||
      this.privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
    ) {
      throw new Error('JWT_SIGNING_KEY must be an EC P-256 private key (ES256)');
    }
    this.publicKey = createPublicKey(this.privateKey);
    const jwk = this.publicKey.export({ format: 'jwk' });
    this.publicJwk = { ...jwk, kid: thumbprint(jwk), use: 'sig', alg: 'ES256' };
  }

  get kid(): string {
    return this.publicJwk.kid;
  }

  /** Public key for a token's kid; unknown kids get nothing, so forged headers fail verification. */
  publicKeyFor(kid: string | undefined): KeyObject | null {
    return kid === this.kid ? this.publicKey : null;
  }

  sign(claims: AccessTokenClaims, ttlSeconds: number, jwtId: string): string {
    return jwt.sign(claims, this.privateKey, {
      algorithm: 'ES256',
      keyid: this.kid,
      expiresIn: ttlSeconds,
      issuer: this.config.JWT_ISSUER,
      audience: TOKEN_AUDIENCE,
      jwtid: jwtId,
    });
  }
}
