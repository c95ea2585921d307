import { Module } from '@nestjs/common';
import { CardsModule } from '../cards/cards.module';
import { AuditAppendRepository } from '../audit/audit-append.repository';
import { AttemptLimiter } from './attempt-limiter';
import { RedemptionController } from './redemption.controller';
import { RedemptionRepository } from './redemption.repository';
import { RedemptionService } from './redemption.service';

/** The redemption channel: verify, bind, debit, reverse (README, redemption). */
@Module({
  imports: [CardsModule],
  controllers: [RedemptionController],
  providers: [RedemptionService, AttemptLimiter, RedemptionRepository, AuditAppendRepository],
})
export class RedemptionModule {}
