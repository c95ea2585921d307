import type { DataSourceOptions } from 'typeorm';
import { dataSourceOptions } from './database/data-source-options';
import { AuditChainHead, AuditCheckpoint } from './audit/audit-checkpoint.entity';
import { AuditPending } from './audit/audit-pending.entity';
import { AuditRecord } from './audit/audit-record.entity';
import { ApiClient, ApiClientSecret } from './auth/api-client.entity';
import { IdempotencyKey } from './idempotency/idempotency-key.entity';
import { Product } from './catalog/product.entity';
import { ReencryptionRun } from './data-keys/reencryption-run.entity';
import { Enterprise } from './enterprises/enterprise.entity';
import { ExportKey } from './export-keys/export-key.entity';
import { CardExport } from './issuance/card-export.entity';
import { IssuanceBatch, IssuanceChunk } from './issuance/issuance.entity';
import { CardSerialAllocator } from './cards/card-serial-allocator.entity';
import { Card } from './cards/card.entity';
import { LedgerEntry, LedgerLine } from './ledger/ledger.entity';
import { Order, OrderLine } from './orders/order.entity';
import { Payment } from './orders/payment.entity';
import { Event } from './events/event.entity';
import { WebhookAttempt, WebhookDelivery, WebhookEndpoint } from './webhooks/webhook.entity';
import { CardTransaction } from './cards/card-transaction.entity';
import {
  ClaimAction,
  Distribution,
  DistributionFile,
  DistributionFileRow,
  DistributionMessage,
  DistributionRecipient,
  DistributionSettings,
} from './distribution/distribution.entity';
import {
  Invoice,
  InvoiceNumberCounter,
  InvoiceOrder,
  InvoiceOrderReturn,
  InvoiceProfile,
} from './invoicing/invoice.entity';
import { ReconciliationDailyRun } from './reconciliation/reconciliation-daily.entity';
import { PaymentCodeKey } from './redemption/payment-code-key.entity';
import { RiskAlert, RiskRuleSettingRow } from './risk/risk.entity';
import { Redemption, RedemptionAttemptCounter } from './redemption/redemption.entity';
import { StoredFile, StoredFileChunk } from './storage/stored-file.entity';
import { Reconciliation, ReconciliationDifference, ReconciliationRow } from './reconciliation/reconciliation.entity';
import { StatementRun } from './reconciliation/statement-run.entity';

/**
 * Every entity, listed (not globbed) so tests, the CLI and the build load the same set. Assembled here, at the
 * composition root beside app.module.ts, so that src/database/ imports no feature (docs/architecture.md).
 */
export const entities = [
  Enterprise,
  ApiClient,
  ApiClientSecret,
  IdempotencyKey,
  AuditRecord,
  AuditPending,
  AuditChainHead,
  AuditCheckpoint,
  Product,
  Order,
  OrderLine,
  Payment,
  LedgerEntry,
  LedgerLine,
  Event,
  IssuanceBatch,
  IssuanceChunk,
  CardSerialAllocator,
  Card,
  CardExport,
  ExportKey,
  ReencryptionRun,
  WebhookEndpoint,
  WebhookDelivery,
  WebhookAttempt,
  CardTransaction,
  Redemption,
  RedemptionAttemptCounter,
  PaymentCodeKey,
  RiskAlert,
  RiskRuleSettingRow,
  DistributionSettings,
  DistributionFile,
  DistributionFileRow,
  Distribution,
  DistributionRecipient,
  DistributionMessage,
  ClaimAction,
  InvoiceProfile,
  Invoice,
  InvoiceOrder,
  InvoiceOrderReturn,
  InvoiceNumberCounter,
  StoredFile,
  StoredFileChunk,
  ReconciliationDailyRun,
  Reconciliation,
  StatementRun,
  ReconciliationRow,
  ReconciliationDifference,
];

/** The database layer's options with the app's entities: for the CLI, tests and benchmarks that open their own. */
export function appDataSourceOptions(url: string, poolSize?: number): DataSourceOptions {
  return dataSourceOptions(url, poolSize, entities);
}
