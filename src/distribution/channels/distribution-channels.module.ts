import { Module } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { MailSender } from './mail.sender';
import { createSmsSender, SmsSender } from './sms.sender';

/** The outside I/O of a distribution: mail and SMS. No database; the distribution module imports this one. */
@Module({
  providers: [MailSender, { provide: SmsSender, useFactory: createSmsSender, inject: [AppConfig] }],
  exports: [MailSender, SmsSender],
})
export class DistributionChannelsModule {}
