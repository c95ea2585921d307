import { Global, Module } from '@nestjs/common';
import { AdminLedgerController } from './admin-ledger.controller';
import { BalanceController } from './balance.controller';
import { LedgerRepository } from './ledger.repository';
import { LedgerService } from './ledger.service';

/**
 * The double-entry ledger. Global so that orders, payments and later issuance
 * and redemptions can post in their own transactions; LedgerService needs
 * DataSource (TypeOrmModule.forRoot) from the app's database module.
 */
@Global()
@Module({
  controllers: [BalanceController, AdminLedgerController],
  providers: [LedgerService, LedgerRepository],
  exports: [LedgerService],
})
export class LedgerModule {}
