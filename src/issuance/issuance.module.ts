import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { EventsModule } from '../events/events.module';
import { LedgerModule } from '../ledger/ledger.module';
import { CardsModule } from '../cards/cards.module';
import { CatalogModule } from '../catalog/catalog.module';
import { OrdersModule } from '../orders/orders.module';
import { IssuanceMetrics } from './issuance-metrics';
import { IssuanceReadsService } from './issuance-reads.service';
import { IssuanceController } from './issuance.controller';
import { IssuanceRepository } from './issuance.repository';
import { IssuanceService } from './issuance.service';

/**
 * Minting paid orders' cards. Depends on orders (registers into its OrderLifecycleHooks), catalog and cards (whose
 * repository writes the minted rows).
 */
@Module({
  imports: [OrdersModule, CatalogModule, CardsModule, AuditModule, EventsModule, LedgerModule],
  controllers: [IssuanceController],
  providers: [IssuanceService, IssuanceRepository, IssuanceReadsService, IssuanceMetrics],
  exports: [IssuanceService, IssuanceReadsService, IssuanceRepository],
})
export class IssuanceModule {}
