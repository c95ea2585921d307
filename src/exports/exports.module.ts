import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { ExportKeysModule } from '../export-keys/export-keys.module';
import { CardsModule } from '../cards/cards.module';
import { IssuanceModule } from '../issuance/issuance.module';
import { OrdersModule } from '../orders/orders.module';
import { StorageModule } from '../storage/storage.module';
import { ExportBuilder } from './export-builder';
import { ExportStorage } from './export-storage';
import { ExportsController } from './exports.controller';
import { ExportsRepository } from './exports.repository';
import { ExportsService } from './exports.service';

/**
 * Card-secrets exports: the API (request, status and link, download) and the `build-export` job. Import it in
 * every process: the handler runs only where QueueModule has `worker: true`, and a worker refuses to boot
 * without it. Files live in the file store (StorageModule), which every process sees.
 */
@Module({
  imports: [CardsModule, IssuanceModule, ExportKeysModule, AuditModule, IdempotencyModule, OrdersModule, StorageModule],
  controllers: [ExportsController],
  providers: [ExportsService, ExportBuilder, ExportStorage, ExportsRepository],
  // Distribution asks whether an order was exported (exportExists) before handing its cards to employees.
  exports: [ExportsRepository],
})
export class ExportsModule {}
