import { Module } from '@nestjs/common';
import { CardsModule } from '../cards/cards.module';
import { EventsModule } from '../events/events.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { LedgerModule } from '../ledger/ledger.module';
import { OrdersModule } from '../orders/orders.module';
import { StorageModule } from '../storage/storage.module';
import { OperatorReportController } from './operator-report.controller';
import { OperatorReportRepository } from './operator-report.repository';
import { OperatorReportService } from './operator-report.service';
import { ReconciliationDailyRepository } from './reconciliation-daily.repository';
import { ReconciliationDailyService } from './reconciliation-daily.service';
import { ReconciliationMatchController } from './reconciliation-match.controller';
import { ReconciliationMatchJob } from './reconciliation-match.job';
import { ReconciliationMatchRepository } from './reconciliation-match.repository';
import { ReconciliationMatchService } from './reconciliation-match.service';
import { RedemptionSummaryController } from './redemption-summary.controller';
import { RedemptionSummaryService } from './redemption-summary.service';
import { StatementRunController } from './statement-run.controller';
import { StatementRunJob } from './statement-run.job';
import { StatementRunRepository } from './statement-run.repository';
import { StatementRunService } from './statement-run.service';
import { StatementController } from './statement.controller';
import { StatementRepository } from './statement.repository';
import { StatementService } from './statement.service';

/**
 * Reconciliation for finance teams: statements that tie out to the ledger, redemption (核销) summaries, the matching
 * of an ERP's own records against Fuli's, and the operator's daily reports. Matching reads orders and invoices
 * through the SQL fragments their owners export (reconciliationOrdersSql, orderInvoiceNumbersSql).
 */
@Module({
  imports: [LedgerModule, CardsModule, OrdersModule, EventsModule, IdempotencyModule, StorageModule],
  controllers: [
    StatementController,
    RedemptionSummaryController,
    ReconciliationMatchController,
    OperatorReportController,
    StatementRunController,
  ],
  providers: [
    StatementService,
    StatementRepository,
    RedemptionSummaryService,
    ReconciliationDailyService,
    ReconciliationDailyRepository,
    ReconciliationMatchService,
    ReconciliationMatchRepository,
    ReconciliationMatchJob,
    OperatorReportService,
    OperatorReportRepository,
    StatementRunService,
    StatementRunRepository,
    StatementRunJob,
  ],
})
export class ReconciliationModule {}
