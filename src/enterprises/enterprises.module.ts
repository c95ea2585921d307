import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { AuditModule } from '../audit/audit.module';
import { AdminEnterprisesController } from './admin-enterprises.controller';
import { EnterprisesController } from './enterprises.controller';
import { EnterprisesRepository } from './enterprises.repository';
import { EnterprisesService } from './enterprises.service';
import { EnterpriseStatusHooks } from './enterprise-status-hooks';

/**
 * Tenants. Needs TransactionalConnection, TransactionService and the
 * global AuditModule from the app; exports EnterprisesService (get, findActive).
 */
@Module({
  imports: [IdempotencyModule, AuditModule],
  controllers: [AdminEnterprisesController, EnterprisesController],
  providers: [EnterprisesService, EnterprisesRepository, EnterpriseStatusHooks],
  exports: [EnterprisesService, EnterprisesRepository, EnterpriseStatusHooks],
})
export class EnterprisesModule {}
