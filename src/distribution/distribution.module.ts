import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { CardsModule } from '../cards/cards.module';
import { CryptoModule } from '../common/crypto/crypto.module';
import { EnterprisesModule } from '../enterprises/enterprises.module';
import { EventsModule } from '../events/events.module';
import { ExportsModule } from '../exports/exports.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { OrdersModule } from '../orders/orders.module';
import { RedemptionModule } from '../redemption/redemption.module';
import { RiskModule } from '../risk/risk.module';
import { DistributionChannelsModule } from './channels/distribution-channels.module';
import { ClaimController, ClaimTicketsController } from './claim.controller';
import { ClaimPaymentCodes } from './claim-payment-codes.service';
import { ClaimsService } from './claims.service';
import { DistributionControlService } from './distribution-control.service';
import { DistributionFilesController } from './distribution-files.controller';
import { DistributionFilesService } from './distribution-files.service';
import { DistributionRecipientsController } from './distribution-recipients.controller';
import { DistributionSenderService } from './distribution-sender.service';
import { AssignmentsAuditJob } from './assignments-audit.job';
import { DistributionSettingsController } from './distribution-settings.controller';
import { DistributionSettingsService } from './distribution-settings.service';
import { DistributionRepository } from './distribution.repository';
import { DistributionsController } from './distributions.controller';
import { DistributionsService } from './distributions.service';
import { OrderCompletionService } from './order-completion.service';
import { SmsReceiptsController } from './sms-receipts.controller';

/** Cards of an issued order handed to employees by e-mail, SMS, claim link or straight into an account. */
@Module({
  imports: [
    AuditModule,
    AuthModule,
    CardsModule,
    CryptoModule,
    DistributionChannelsModule,
    EnterprisesModule,
    EventsModule,
    ExportsModule,
    IdempotencyModule,
    OrdersModule,
    RedemptionModule,
    RiskModule,
  ],
  controllers: [
    DistributionSettingsController,
    DistributionFilesController,
    DistributionsController,
    DistributionRecipientsController,
    ClaimController,
    ClaimTicketsController,
    SmsReceiptsController,
  ],
  providers: [
    DistributionRepository,
    DistributionSettingsService,
    DistributionFilesService,
    DistributionsService,
    DistributionSenderService,
    AssignmentsAuditJob,
    DistributionControlService,
    OrderCompletionService,
    ClaimsService,
    ClaimPaymentCodes,
  ],
  exports: [DistributionRepository, DistributionsService],
})
export class DistributionModule {}
