import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';

/**
 * Imported by every module that appends to the audit chain. AuditRepository holds the SQL of the chain's tables;
 * it needs TransactionalConnection and TransactionService from the app's database module.
 */
@Module({
  controllers: [AuditController],
  providers: [AuditService, AuditRepository],
  exports: [AuditService],
})
export class AuditModule {}
