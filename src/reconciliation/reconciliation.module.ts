import { Module } from '@nestjs/common';
import { CardsModule } from '../cards/cards.module';
import { EventsModule } from '../events/events.module';
import { LedgerModule } from '../ledger/ledger.module';
import { OrdersModule } from '../orders/orders.module';
import { ReconciliationDailyRepository } from './reconciliation-daily.repository';
import { ReconciliationDailyService } from './reconciliation-daily.service';
import { RedemptionSummaryController } from './redemption-summary.controller';
import { RedemptionSummaryService } from './redemption-summary.service';
import { StatementController } from './statement.controller';
import { StatementRepository } from './statement.repository';
import { StatementService } from './statement.service';

/**
 * Reconciliation for finance teams: statements that tie out to the ledger, redemption (核销) summaries, the matching
 * of an ERP's own records against Fuli's, and the operator's daily reports.
 */
@Module({
  imports: [LedgerModule, CardsModule, OrdersModule, EventsModule],
  controllers: [StatementController, RedemptionSummaryController],
  providers: [
    StatementService,
    StatementRepository,
    RedemptionSummaryService,
    ReconciliationDailyService,
    ReconciliationDailyRepository,
  ],
})
export class ReconciliationModule {}
