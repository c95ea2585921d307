import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { AuditModule } from '../audit/audit.module';
import { EnterprisesModule } from '../enterprises/enterprises.module';
import { CompliancePolicy } from './compliance.policy';
import { AdminProductsController } from './admin-products.controller';
import { CatalogRepository } from './catalog.repository';
import { CatalogService } from './catalog.service';
import { ProductsController } from './products.controller';

/**
 * Card products. Needs TransactionalConnection, TransactionService, the global AuditModule and AppConfig from the app.
 * Exports CatalogService (findForOrder for the orders module) and the CompliancePolicy it checks products
 * with, so that orders use the same instance and limits.
 */
@Module({
  imports: [EnterprisesModule, IdempotencyModule, AuditModule],
  controllers: [AdminProductsController, ProductsController],
  providers: [CatalogService, CatalogRepository, CompliancePolicy],
  exports: [CatalogService, CatalogRepository, CompliancePolicy],
})
export class CatalogModule {}
