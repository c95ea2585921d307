import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { EnterprisesModule } from '../enterprises/enterprises.module';
import { IssuanceModule } from '../issuance/issuance.module';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';
import { AdminPaymentsController, PaymentsController } from './payments.controller';
import { PaymentsService } from './payments.service';

@Module({
  imports: [CatalogModule, EnterprisesModule, IssuanceModule],
  controllers: [OrdersController, AdminPaymentsController, PaymentsController],
  providers: [OrdersService, PaymentsService],
  exports: [OrdersService],
})
export class OrdersModule {}
