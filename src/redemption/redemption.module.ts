import { Module } from '@nestjs/common';
import { CardsModule } from '../cards/cards.module';
import { IssuanceModule } from '../issuance/issuance.module';
import { AttemptLimiter } from './attempt-limiter';
import { RedemptionController } from './redemption.controller';
import { RedemptionService } from './redemption.service';

/** The redemption channel: verify, bind, debit, reverse (DESIGN.md §3 redemption/). */
@Module({
  imports: [IssuanceModule, CardsModule],
  controllers: [RedemptionController],
  providers: [RedemptionService, AttemptLimiter],
})
export class RedemptionModule {}
