import { Module } from '@nestjs/common';
import { IssuanceModule } from '../issuance/issuance.module';
import { CardLifecycleService } from './card-lifecycle.service';
import { CardMovements } from './card-movements';
import { AdminCardsController, CardsLifecycleController } from './cards-lifecycle.controller';

/** Card lifecycle: freeze, loss, void, refund, expiry, replacement (DESIGN.md §3 cards/). */
@Module({
  imports: [IssuanceModule],
  controllers: [CardsLifecycleController, AdminCardsController],
  providers: [CardLifecycleService, CardMovements],
  exports: [CardLifecycleService, CardMovements],
})
export class CardsModule {}
