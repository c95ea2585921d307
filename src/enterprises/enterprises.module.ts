import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { AdminEnterprisesController } from './admin-enterprises.controller';
import { EnterprisesController } from './enterprises.controller';
import { EnterprisesRepository } from './enterprises.repository';
import { EnterprisesService } from './enterprises.service';

/**
 * Tenants. Needs TransactionalConnection, TransactionService and the
 * global AuditModule from the app; exports EnterprisesService (get, findActive).
 */
@Module({
  // ApiClientsService: a status change drops the tenant's clients from its cache.
  imports: [AuthModule],
  controllers: [AdminEnterprisesController, EnterprisesController],
  providers: [EnterprisesService, EnterprisesRepository],
  exports: [EnterprisesService, EnterprisesRepository],
})
export class EnterprisesModule {}
