import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { AuditModule } from '../audit/audit.module';
import { AdminEnterprisesController } from './admin-enterprises.controller';
import { EnterprisesController } from './enterprises.controller';
import { EnterprisesRepository } from './enterprises.repository';
import { EnterprisesService } from './enterprises.service';
import { EnterpriseStatusHooks } from './enterprise-status-hooks';
import { EnterpriseStatusRepository } from './enterprise-status.repository';

/**
 * Tenants. Needs TransactionalConnection, TransactionService and the
 * global AuditModule from the app; exports EnterprisesService (get, findActive).
 */
@Module({
  imports: [IdempotencyModule, AuditModule],
  controllers: [AdminEnterprisesController, EnterprisesController],
  providers: [EnterprisesService, EnterprisesRepository, EnterpriseStatusRepository, EnterpriseStatusHooks],
  exports: [EnterprisesService, EnterprisesRepository, EnterpriseStatusRepository, EnterpriseStatusHooks],
})
export class EnterprisesModule {}
