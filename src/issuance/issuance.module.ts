import { Module } from '@nestjs/common';
import { CardMintingRepository } from '../cards/card-minting.repository';
import { CatalogModule } from '../catalog/catalog.module';
import { OrdersModule } from '../orders/orders.module';
import { CardSecrets } from '../cards/card-secrets';
import { IssuanceReadsService } from './issuance-reads.service';
import { CardsRepository } from '../cards/cards.repository';
import { OrderFactsRepository } from '../orders/order-facts.repository';
import { BatchReadsRepository } from './batch-reads.repository';
import { IssuanceController } from './issuance.controller';
import { IssuanceRepository } from './issuance.repository';
import { IssuanceService } from './issuance.service';

/**
 * Minting paid orders' cards. Depends on orders (registers into its OrderLifecycleHooks) and catalog; provides
 * CardMintingRepository, minting's SQL on the cards module's table, until the cards module provides it.
 */
@Module({
  imports: [OrdersModule, CatalogModule],
  controllers: [IssuanceController],
  providers: [
    IssuanceService,
    IssuanceRepository,
    CardMintingRepository,
    IssuanceReadsService,
    CardsRepository,
    OrderFactsRepository,
    BatchReadsRepository,
    CardSecrets,
  ],
  exports: [IssuanceService, IssuanceReadsService, CardSecrets],
})
export class IssuanceModule {}
