import { Module } from '@nestjs/common';
import { CardSecrets } from './card-secrets';
import { CardsService } from './cards.service';
import { IssuanceController } from './issuance.controller';
import { IssuanceService } from './issuance.service';

@Module({
  controllers: [IssuanceController],
  providers: [IssuanceService, CardsService, CardSecrets],
  exports: [IssuanceService, CardsService, CardSecrets],
})
export class IssuanceModule {}
