import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { CryptoModule } from '../common/crypto/crypto.module';
import { EventsModule } from '../events/events.module';
import { ExportsModule } from '../exports/exports.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { OrdersModule } from '../orders/orders.module';
import { DistributionFilesController } from './distribution-files.controller';
import { DistributionFilesService } from './distribution-files.service';
import { DistributionQueue } from './distribution-queue';
import { DistributionSettingsController } from './distribution-settings.controller';
import { DistributionSettingsService } from './distribution-settings.service';
import { DistributionRepository } from './distribution.repository';
import { DistributionsController } from './distributions.controller';
import { DistributionsService } from './distributions.service';

/** Cards of an issued order handed to employees by e-mail, SMS, claim link or straight into an account. */
@Module({
  imports: [OrdersModule, ExportsModule, IdempotencyModule, AuditModule, EventsModule, CryptoModule],
  controllers: [DistributionSettingsController, DistributionFilesController, DistributionsController],
  providers: [
    DistributionRepository,
    DistributionQueue,
    DistributionSettingsService,
    DistributionFilesService,
    DistributionsService,
  ],
  exports: [DistributionRepository, DistributionQueue, DistributionsService],
})
export class DistributionModule {}
