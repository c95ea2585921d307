import { Global, Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { AuditService } from './audit.service';

/**
 * Global so that any module can append to the audit chain. AuditService needs
 * DataSource (TypeOrmModule.forRoot) and TransactionService from the app's
 * database module.
 */
@Global()
@Module({
  controllers: [AuditController],
  providers: [AuditService],
  exports: [AuditService],
})
export class AuditModule {}
