import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { EventsModule } from '../events/events.module';
import { LedgerModule } from '../ledger/ledger.module';
import { CryptoModule } from '../common/crypto/crypto.module';
import { CatalogModule } from '../catalog/catalog.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { EnterprisesModule } from '../enterprises/enterprises.module';
import { OrderLifecycleHooks } from './order-lifecycle-hooks';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { AdminPaymentsController, PaymentsController } from './payments.controller';
import { PaymentsService } from './payments.service';

/**
 * Orders and payments. Depends on catalog and enterprises, never on issuance: issuance registers into
 * OrderLifecycleHooks (docs/architecture.md).
 */
@Module({
  imports: [CatalogModule, EnterprisesModule, IdempotencyModule, AuditModule, EventsModule, LedgerModule, CryptoModule],
  controllers: [OrdersController, AdminPaymentsController, PaymentsController],
  providers: [OrdersService, PaymentsService, OrdersRepository, OrderLifecycleHooks],
  exports: [OrdersService, OrdersRepository, OrderLifecycleHooks],
})
export class OrdersModule {}
