import { Module } from '@nestjs/common';

/**
 * Reconciliation for finance teams: statements that tie out to the ledger, redemption (核销) summaries, the matching
 * of an ERP's own records against Fuli's, and the operator's daily reports.
 */
@Module({})
export class ReconciliationModule {}
