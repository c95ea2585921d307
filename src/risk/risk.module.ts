import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { CardsModule } from '../cards/cards.module';
import { CardTrailController } from './card-trail.controller';
import { CardTrailService } from './card-trail.service';
import { RiskController } from './risk.controller';
import { RiskRepository } from './risk.repository';
import { RiskService } from './risk.service';

/**
 * Fraud monitoring (rules evaluated by the redemption channel's requests, alerts, settings) and the card's trail
 * (交易溯源) from the audit chain, alerts included (src/risk/).
 */
@Module({
  imports: [CardsModule, AuditModule],
  controllers: [RiskController, CardTrailController],
  providers: [RiskService, RiskRepository, CardTrailService],
  exports: [RiskService],
})
export class RiskModule {}
