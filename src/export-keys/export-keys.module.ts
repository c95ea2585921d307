import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { ExportKeysController } from './export-keys.controller';
import { ExportKeysRepository } from './export-keys.repository';
import { ExportKeysService } from './export-keys.service';

/** Recipient keys of card-code exports, registered per enterprise and confirmed by a second party. */
@Module({
  imports: [AuditModule, IdempotencyModule],
  controllers: [ExportKeysController],
  providers: [ExportKeysService, ExportKeysRepository],
  exports: [ExportKeysService],
})
export class ExportKeysModule {}
