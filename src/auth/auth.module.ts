import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { AdminApiClientsController } from './admin-api-clients.controller';
import { ApiClientsService } from './api-clients.service';
import { JwtStrategy } from './jwt.strategy';
import { SigningKeyService } from './signing-key.service';
import { TokenController } from './token.controller';
import { TokenService } from './token.service';
import { OperatorBootstrap } from './operator-bootstrap';

@Module({
  imports: [PassportModule],
  controllers: [TokenController, AdminApiClientsController],
  providers: [ApiClientsService, SigningKeyService, TokenService, JwtStrategy, OperatorBootstrap],
  exports: [ApiClientsService],
})
export class AuthModule {}
