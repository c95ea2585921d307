import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { CardsModule } from '../cards/cards.module';
import { EnterprisesModule } from '../enterprises/enterprises.module';
import { EventsModule } from '../events/events.module';
import { OrdersModule } from '../orders/orders.module';
import { DistributionChannelsModule } from './channels/distribution-channels.module';
import { DistributionControlService } from './distribution-control.service';
import { DistributionRecipientsController } from './distribution-recipients.controller';
import { DistributionRepository } from './distribution.repository';
import { DistributionSenderService } from './distribution-sender.service';
import { OrderCompletionService } from './order-completion.service';
import { SmsReceiptsController } from './sms-receipts.controller';

/** Cards of an issued order handed to employees by e-mail, SMS, claim link or straight into an account. */
@Module({
  imports: [CardsModule, OrdersModule, EnterprisesModule, EventsModule, AuditModule, DistributionChannelsModule],
  controllers: [DistributionRecipientsController, SmsReceiptsController],
  providers: [DistributionRepository, DistributionSenderService, DistributionControlService, OrderCompletionService],
})
export class DistributionModule {}
