import { Module } from '@nestjs/common';
import { AdminLedgerController } from './admin-ledger.controller';
import { BalanceController } from './balance.controller';
import { LedgerRepository } from './ledger.repository';
import { LedgerService } from './ledger.service';

/**
 * The double-entry ledger, imported by the modules that post (orders, issuance, cards), each in its own
 * transaction; hot paths compose its validated entry fragment instead (ledgerEntrySql).
 */
@Module({
  controllers: [BalanceController, AdminLedgerController],
  providers: [LedgerService, LedgerRepository],
  exports: [LedgerService],
})
export class LedgerModule {}
