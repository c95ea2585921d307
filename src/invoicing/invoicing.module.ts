import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { CardsModule } from '../cards/cards.module';
import { DistributionChannelsModule } from '../distribution/channels/distribution-channels.module';
import { EventsModule } from '../events/events.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { OrdersModule } from '../orders/orders.module';
import { StorageModule } from '../storage/storage.module';
import { InvoiceRenderJob } from './invoice-render.job';
import { AdminInvoicingController, InvoicingController } from './invoicing.controller';
import { InvoicingRepository } from './invoicing.repository';
import { InvoicingService } from './invoicing.service';

/**
 * Invoices (docs/invoicing.md): the profile, issuing, red-letter invoices, documents and their delivery. Depends on
 * orders and cards and registers into their lifecycle hooks; neither imports it. Import it in every process: the
 * render and monthly jobs run where QueueModule has `worker: true`, and a worker refuses to boot without them.
 */
@Module({
  imports: [
    OrdersModule,
    CardsModule,
    EventsModule,
    AuditModule,
    IdempotencyModule,
    DistributionChannelsModule,
    StorageModule,
  ],
  controllers: [InvoicingController, AdminInvoicingController],
  providers: [InvoicingService, InvoicingRepository, InvoiceRenderJob],
  exports: [InvoicingService],
})
export class InvoicingModule {}
