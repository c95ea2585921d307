import { Module } from '@nestjs/common';
import { CardMintingRepository } from './card-minting.repository';
import { CardSecrets } from './card-secrets';
import { CardSecretsRepository } from './card-secrets.repository';
import { CardLifecycleService } from './card-lifecycle.service';
import { CardSerialsRepository } from './card-serials.repository';
import { OrderFactsRepository } from '../orders/order-facts.repository';
import { CardMovements } from './card-movements';
import { CardsRepository } from './cards.repository';
import { AdminCardsController, CardsLifecycleController } from './cards-lifecycle.controller';

/**
 * Cards: their table and transactions, codes and secrets, the lifecycle (freeze, loss, void, refund, expiry,
 * replacement). Issuance, redemption, exports and data-keys build on it (docs/architecture.md).
 */
@Module({
  controllers: [CardsLifecycleController, AdminCardsController],
  providers: [
    CardLifecycleService,
    CardMovements,
    CardsRepository,
    CardSecrets,
    CardSecretsRepository,
    CardMintingRepository,
    CardSerialsRepository,
    OrderFactsRepository,
  ],
  exports: [
    CardLifecycleService,
    CardMovements,
    CardsRepository,
    CardSecrets,
    CardSecretsRepository,
    CardMintingRepository,
    CardSerialsRepository,
    OrderFactsRepository,
  ],
})
export class CardsModule {}
