import { Module } from '@nestjs/common';
import { CryptoModule } from '../common/crypto/crypto.module';
import { LedgerModule } from '../ledger/ledger.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { AuditModule } from '../audit/audit.module';
import { EventsModule } from '../events/events.module';
import { CardSecrets } from './card-secrets';
import { CardLifecycleService } from './card-lifecycle.service';
import { CardLifecycleHooks } from './card-lifecycle-hooks';
import { OrdersModule } from '../orders/orders.module';
import { CardMovements } from './card-movements';
import { CardsRepository } from './cards.repository';
import { AdminCardsController, CardsLifecycleController } from './cards-lifecycle.controller';

/**
 * Cards: their table and transactions, codes and secrets, the lifecycle (freeze, loss, void, refund, expiry,
 * replacement). Issuance, redemption, exports and data-keys build on it (docs/architecture.md).
 */
@Module({
  imports: [CryptoModule, LedgerModule, IdempotencyModule, AuditModule, EventsModule, OrdersModule],
  controllers: [CardsLifecycleController, AdminCardsController],
  providers: [CardLifecycleService, CardLifecycleHooks, CardMovements, CardsRepository, CardSecrets],
  exports: [CardLifecycleService, CardLifecycleHooks, CardMovements, CardsRepository, CardSecrets],
})
export class CardsModule {}
