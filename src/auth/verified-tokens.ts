import { Injectable } from '@nestjs/common';
import type { Scope } from '../common/access/scopes';

export interface VerifiedClaims {
  clientId: string;
  scopes: Scope[];
  expiresAt: number;
  /** The `sid` claim: the client secret the token was minted with. */
  secretId?: string;
}

const MAX_ENTRIES = 10_000;

/**
 * Tokens whose ES256 signature passport-jwt has already verified, keyed by the
 * whole token string (signature included), until they expire: a client reuses one
 * token for 15 minutes, and checking its signature again every request would
 * cost more than the rest of the request. What a token lets its client do is
 * still decided per request from the client's current state.
 */
@Injectable()
export class VerifiedTokens {
  private readonly entries = new Map<string, VerifiedClaims>();

  remember(token: string, claims: VerifiedClaims): void {
    if (this.entries.size >= MAX_ENTRIES) {
      // Oldest first: Map iterates in insertion order.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, claims);
  }

  lookup(token: string, now = Date.now()): VerifiedClaims | null {
    const claims = this.entries.get(token);
    if (!claims) return null;
    if (claims.expiresAt <= now) {
      this.entries.delete(token);
      return null;
    }
    return claims;
  }
}
