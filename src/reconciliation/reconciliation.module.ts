import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { ReconciliationMatchController } from './reconciliation-match.controller';
import { ReconciliationMatchJob } from './reconciliation-match.job';
import { ReconciliationMatchRepository } from './reconciliation-match.repository';
import { ReconciliationMatchService } from './reconciliation-match.service';

/**
 * Reconciliation for finance teams: statements that tie out to the ledger, redemption (核销) summaries, the matching
 * of an ERP's own records against Fuli's, and the operator's daily reports. Matching reads orders and invoices
 * through the SQL fragments their owners export (reconciliationOrdersSql, orderInvoiceNumbersSql).
 */
@Module({
  imports: [EventsModule, IdempotencyModule],
  controllers: [ReconciliationMatchController],
  providers: [ReconciliationMatchService, ReconciliationMatchRepository, ReconciliationMatchJob],
})
export class ReconciliationModule {}
