import { Module } from '@nestjs/common';
import { CardSecrets } from './card-secrets';
import { CardReadsService } from '../cards/card-reads.service';
import { CardsRepository } from '../cards/cards.repository';
import { OrderFactsRepository } from '../orders/order-facts.repository';
import { BatchReadsRepository } from './batch-reads.repository';
import { IssuanceController } from './issuance.controller';
import { IssuanceService } from './issuance.service';

@Module({
  controllers: [IssuanceController],
  // CardReadsService (the cards module's reads behind this module's controller) and its repositories.
  providers: [
    IssuanceService,
    CardReadsService,
    CardsRepository,
    OrderFactsRepository,
    BatchReadsRepository,
    CardSecrets,
  ],
  exports: [IssuanceService, CardReadsService, CardSecrets],
})
export class IssuanceModule {}
