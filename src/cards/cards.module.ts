import { Module } from '@nestjs/common';
import { IssuanceModule } from '../issuance/issuance.module';
import { CardLifecycleService } from './card-lifecycle.service';
import { CardSerialsRepository } from './card-serials.repository';
import { OrderFactsRepository } from '../orders/order-facts.repository';
import { CardMovements } from './card-movements';
import { CardsRepository } from './cards.repository';
import { AdminCardsController, CardsLifecycleController } from './cards-lifecycle.controller';

/** Card lifecycle: freeze, loss, void, refund, expiry, replacement (DESIGN.md §3 cards/). */
@Module({
  imports: [IssuanceModule],
  controllers: [CardsLifecycleController, AdminCardsController],
  providers: [CardLifecycleService, CardMovements, CardsRepository, OrderFactsRepository, CardSerialsRepository],
  exports: [CardLifecycleService, CardMovements, CardsRepository, OrderFactsRepository],
})
export class CardsModule {}
