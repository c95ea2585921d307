import { Module } from '@nestjs/common';
import { CardSecrets } from './card-secrets';
import { CardReadsService } from '../cards/card-reads.service';
import { IssuanceController } from './issuance.controller';
import { IssuanceService } from './issuance.service';

@Module({
  controllers: [IssuanceController],
  providers: [IssuanceService, CardReadsService, CardSecrets],
  exports: [IssuanceService, CardReadsService, CardSecrets],
})
export class IssuanceModule {}
