import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { AuditModule } from '../audit/audit.module';
import { PassportModule } from '@nestjs/passport';
import { AdminApiClientsController } from './admin-api-clients.controller';
import { EnterprisesModule } from '../enterprises/enterprises.module';
import { ApiClientsRepository } from './api-clients.repository';
import { ApiClientsService } from './api-clients.service';
import { IdentityController } from './identity.controller';
import { JwtStrategy } from './jwt.strategy';
import { SigningKeyService } from './signing-key.service';
import { TokenController } from './token.controller';
import { TokenService } from './token.service';
import { OperatorBootstrap } from './operator-bootstrap';
import { RouteRequirements } from './auth.guard';
import { SecretHasher } from './secret-hash';
import { TokenFailures } from './token-failures';
import { VerifiedTokens } from './verified-tokens';
import { OperatorCredentials } from './operator-credentials';

@Module({
  // EnterprisesModule: the tenant's status, and the hook through which a status change reaches the client cache.
  imports: [PassportModule, EnterprisesModule, IdempotencyModule, AuditModule],
  controllers: [TokenController, AdminApiClientsController, IdentityController],
  providers: [
    ApiClientsService,
    ApiClientsRepository,
    SigningKeyService,
    TokenService,
    JwtStrategy,
    OperatorBootstrap,
    VerifiedTokens,
    SecretHasher,
    TokenFailures,
    RouteRequirements,
    OperatorCredentials,
  ],
  exports: [ApiClientsService, VerifiedTokens, RouteRequirements, OperatorCredentials],
})
export class AuthModule {}
