import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { CardsModule } from '../cards/cards.module';
import { EnterprisesModule } from '../enterprises/enterprises.module';
import { EventsModule } from '../events/events.module';
import { OrdersModule } from '../orders/orders.module';
import { ClaimMessages, MailSender, SmsSender } from './channels/channel-types';
import { InterimClaimMessages, InterimMailSender, InterimSmsSender } from './channels/interim-channels';
import { DistributionControlService } from './distribution-control.service';
import { DistributionRecipientsController } from './distribution-recipients.controller';
import { DistributionRepository } from './distribution.repository';
import { DistributionSenderService } from './distribution-sender.service';
import { OrderCompletionService } from './order-completion.service';
import { SmsReceiptsController } from './sms-receipts.controller';

/** Cards of an issued order handed to employees by e-mail, SMS, claim link or straight into an account. */
@Module({
  imports: [CardsModule, OrdersModule, EnterprisesModule, EventsModule, AuditModule],
  controllers: [DistributionRecipientsController, SmsReceiptsController],
  providers: [
    DistributionRepository,
    DistributionSenderService,
    DistributionControlService,
    OrderCompletionService,
    // The sending part's stand-ins: the integrator provides the channels part's adapters here instead.
    { provide: MailSender, useClass: InterimMailSender },
    { provide: SmsSender, useClass: InterimSmsSender },
    { provide: ClaimMessages, useClass: InterimClaimMessages },
  ],
})
export class DistributionModule {}
