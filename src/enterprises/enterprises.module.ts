import { Module } from '@nestjs/common';
import { AdminEnterprisesController } from './admin-enterprises.controller';
import { EnterprisesController } from './enterprises.controller';
import { EnterprisesService } from './enterprises.service';

/**
 * Tenants. Needs DataSource (TypeOrmModule.forRoot), TransactionService and the
 * global AuditModule from the app; exports EnterprisesService (get, findActive).
 */
@Module({
  controllers: [AdminEnterprisesController, EnterprisesController],
  providers: [EnterprisesService],
  exports: [EnterprisesService],
})
export class EnterprisesModule {}
