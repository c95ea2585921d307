import { DistributionModule } from './distribution/distribution.module';
import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { AuditModule } from './audit/audit.module';
import { AccessRulesGuard, AccessTokenGuard } from './auth/auth.guard';
import { AuthModule } from './auth/auth.module';
import { CatalogModule } from './catalog/catalog.module';
import { CryptoModule } from './common/crypto/crypto.module';
import { DataKeysModule } from './data-keys/data-keys.module';
import { ProblemFilter } from './common/errors/problem.filter';
import { IpRateLimitGuard, RateLimitGuard } from './auth/rate-limit.guard';
import { rateLimitModule } from './common/rate-limit/rate-limit.module';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { entities } from './entities';
import { DemoModule } from './demo/demo.module';
import { EnterprisesModule } from './enterprises/enterprises.module';
import { ExportKeysModule } from './export-keys/export-keys.module';
import { ExportsModule } from './exports/exports.module';
import { InvoicingModule } from './invoicing/invoicing.module';
import { HealthModule } from './health/health.module';
import { LedgerModule } from './ledger/ledger.module';
import { OrdersModule } from './orders/orders.module';
import { IdempotencyModule } from './idempotency/idempotency.module';
import { QueueModule } from './queue/queue.module';
import { EventsModule } from './events/events.module';
import { WebhooksModule } from './webhooks/webhooks.module';
import type { QueueConnection } from './queue/queue-backend';
import { CardsModule } from './cards/cards.module';
import { IssuanceModule } from './issuance/issuance.module';
import { RedemptionModule } from './redemption/redemption.module';
import { RiskModule } from './risk/risk.module';
import { ReconciliationModule } from './reconciliation/reconciliation.module';
import { QueueDashboardModule } from './queue-dashboard/queue-dashboard.module';

export interface AppModuleOptions {
  config: AppConfig;
  databaseUrl: string;
  queue: QueueConnection;
  /** Run the queue processors in this process (worker or all-in-one). */
  worker: boolean;
}

/** The whole application; main.ts serves it over HTTP, worker.ts runs only its processors. */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    const { config } = options;
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(options.databaseUrl, entities),
        QueueModule.forRoot({ connection: options.queue, worker: options.worker }),
        rateLimitModule(config),
        CryptoModule,
        EventsModule,
        WebhooksModule,
        AuditModule,
        AuthModule,
        EnterprisesModule,
        CatalogModule,
        OrdersModule,
        ExportKeysModule,
        ExportsModule,
        InvoicingModule,
        DataKeysModule,
        LedgerModule,
        HealthModule,
        IdempotencyModule,
        DemoModule,
        CardsModule,
        IssuanceModule,
        RedemptionModule,
        RiskModule,
        DistributionModule,
        ReconciliationModule,
        QueueDashboardModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        // In this order: per-IP limit, authentication, per-client limit, then scopes and tenant state.
        // Also injectable by class: the /docs pages, outside Nest's routes, spend the same per-IP budget (src/bootstrap.ts).
        IpRateLimitGuard,
        { provide: APP_GUARD, useExisting: IpRateLimitGuard },
        { provide: APP_GUARD, useClass: AccessTokenGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_GUARD, useClass: AccessRulesGuard },
      ],
    };
  }
}
