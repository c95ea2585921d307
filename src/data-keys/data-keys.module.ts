import { Module } from '@nestjs/common';
import { CryptoModule } from '../common/crypto/crypto.module';
import { AuditModule } from '../audit/audit.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { CardsModule } from '../cards/cards.module';
import { OrdersModule } from '../orders/orders.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { DistributionModule } from '../distribution/distribution.module';
import { RedemptionModule } from '../redemption/redemption.module';
import { DataKeysController } from './data-keys.controller';
import { DataKeysRepository } from './data-keys.repository';
import { DataKeysService } from './data-keys.service';
import { ReencryptionJob } from './reencryption.job';
import { SealedColumnOwners } from './sealed-column-owners';
import { SealedColumns } from './sealed-columns';

/**
 * Data-key rotation: key usage, re-encryption runs and the `re-encrypt-data` job. Import it in every process:
 * the handler runs only where QueueModule has `worker: true`, and a worker refuses to boot without it. It walks
 * the encrypted columns through their tables' owners (cards, orders, idempotency, webhooks, distribution, redemption), none of which
 * depends on it.
 */
@Module({
  imports: [
    CardsModule,
    OrdersModule,
    IdempotencyModule,
    WebhooksModule,
    DistributionModule,
    RedemptionModule,
    CryptoModule,
    AuditModule,
  ],
  controllers: [DataKeysController],
  providers: [DataKeysService, ReencryptionJob, SealedColumns, SealedColumnOwners, DataKeysRepository],
})
export class DataKeysModule {}
