/** Every BullMQ queue of the service. A queue groups jobs that share a worker and its concurrency. */
export enum QueueName {
  Maintenance = 'maintenance',
  Issuance = 'issuance',
  Exports = 'exports',
  /** Re-encryption of data at rest after a key rotation: long, one at a time, apart from the short housekeeping jobs. */
  DataKeys = 'data-keys',
  Webhooks = 'webhooks',
  /** Distribution messages: batches wait on SMTP and the SMS provider, not on this CPU. */
  Distribution = 'distribution',
  /** Invoice documents: render (PDF, XML, JSON) and deliver by e-mail. */
  Invoices = 'invoices',
  /** Matching uploaded ERP records against orders: one set-based statement per upload, CPU in Postgres. */
  Reconciliation = 'reconciliation',
}

/** Every job the service runs. Each has exactly one @OnJob handler and one queue (JOB_QUEUE). */
export enum JobName {
  PurgeIdempotencyKeys = 'purge-idempotency-keys',
  /** Mint one chunk of an issuance batch (generate, seal, COPY, checkpoint). */
  MintChunk = 'mint-chunk',
  /** Enqueue every unminted chunk of unfinished batches: the relay from committed state to the queue. */
  ResumeIssuance = 'resume-issuance',
  /** Build one card-secrets export file (COPY, decrypt, CSV, OpenPGP-encrypt) and optionally purge. */
  BuildExport = 'build-export',
  /** Walk every encrypted column and seal what an older data key sealed again under the active key. */
  ReencryptData = 're-encrypt-data',
  /** Batches of the due webhook deliveries of one endpoint: claim, send at once, record (src/webhooks). */
  DeliverWebhooks = 'deliver-webhooks',
  /** Enqueue webhook deliveries that are due but have no job (lost enqueue, crashed worker, flushed Redis). */
  SweepWebhookDeliveries = 'sweep-webhook-deliveries',
  /** Expire the cards past expires_at and book their balances as breakage (scheduled). */
  ExpireCards = 'expire-cards',
  /** Verify the audit records appended since the last checkpoint and sign a checkpoint of the head (scheduled). */
  CheckpointAudit = 'checkpoint-audit',
  /** Batches of one distribution's due recipients: claim, send by e-mail/SMS or bind, record (src/distribution). */
  DistributionSend = 'distribution-send',
  /** Scheduled sends, retries, lost leases, link expiry, reminders and completion of distributions (scheduled). */
  DistributionSweep = 'distribution-sweep',
  /** Write a distribution's assignments into the audit chain against the digests it committed (src/distribution). */
  AuditDistributionAssignments = 'audit-distribution-assignments',
  /** Render one invoice's PDF, XML and JSON, store them with their SHA-256, then e-mail the PDF (src/invoicing). */
  RenderInvoice = 'render-invoice',
  /** Issue the monthly invoices of the previous Asia/Shanghai month (scheduled 02:00 on the 1st), idempotent. */
  IssueMonthlyInvoices = 'issue-monthly-invoices',
  /** Enqueue the rendering of invoices committed but never rendered (a lost enqueue, a crashed worker). */
  SweepInvoiceRendering = 'sweep-invoice-rendering',
  /** Delete stored files past their expiry and versions whose writer died (src/storage, hourly). */
  PurgeStoredFiles = 'purge-stored-files',
  /** Send each enterprise with ledger movements yesterday (Asia/Shanghai) its reconciliation.daily event (scheduled), idempotent. */
  ReconciliationDaily = 'reconciliation-daily',
  /** Match one uploaded reconciliation's ERP rows against the enterprise's orders (src/reconciliation). */
  MatchReconciliation = 'match-reconciliation',
  /** Build one statement file (POST /v1/statement-runs) into the file store and announce statement.ready. */
  BuildStatement = 'build-statement',
}

/** The payload of each job: QueueService.add and @OnJob handlers are typed by it. Keep payloads JSON and small (ids, not rows). */
export interface JobPayloads {
  [JobName.PurgeIdempotencyKeys]: { olderThanHours: number };
  [JobName.MintChunk]: { batchId: string; chunkNo: number };
  [JobName.ResumeIssuance]: Record<string, never>;
  [JobName.BuildExport]: { exportId: string };
  [JobName.ReencryptData]: { runId: string };
  [JobName.DeliverWebhooks]: { endpointId: string };
  [JobName.SweepWebhookDeliveries]: Record<string, never>;
  [JobName.ExpireCards]: Record<string, never>;
  [JobName.CheckpointAudit]: Record<string, never>;
  [JobName.DistributionSend]: { distributionId: string };
  [JobName.DistributionSweep]: Record<string, never>;
  [JobName.AuditDistributionAssignments]: { distributionId: string };
  [JobName.RenderInvoice]: { invoiceId: string; rerender?: boolean };
  /** `period` YYYY-MM; absent: the month before the run's (Asia/Shanghai). */
  [JobName.IssueMonthlyInvoices]: { period?: string };
  [JobName.SweepInvoiceRendering]: Record<string, never>;
  [JobName.PurgeStoredFiles]: Record<string, never>;
  /** `day` YYYY-MM-DD; absent: the day before the run's (Asia/Shanghai). */
  [JobName.ReconciliationDaily]: { day?: string };
  [JobName.MatchReconciliation]: { reconciliationId: string };
  [JobName.BuildStatement]: { statementRunId: string };
}

/** Which queue each job runs on. */
export const JOB_QUEUE: Record<JobName, QueueName> = {
  [JobName.PurgeIdempotencyKeys]: QueueName.Maintenance,
  [JobName.MintChunk]: QueueName.Issuance,
  [JobName.ResumeIssuance]: QueueName.Maintenance,
  [JobName.BuildExport]: QueueName.Exports,
  [JobName.ReencryptData]: QueueName.DataKeys,
  [JobName.DeliverWebhooks]: QueueName.Webhooks,
  [JobName.SweepWebhookDeliveries]: QueueName.Maintenance,
  [JobName.ExpireCards]: QueueName.Maintenance,
  [JobName.CheckpointAudit]: QueueName.Maintenance,
  [JobName.DistributionSend]: QueueName.Distribution,
  // Not on maintenance: a sweep of many distributions must not wait behind a long expiry or audit checkpoint.
  [JobName.DistributionSweep]: QueueName.Distribution,
  [JobName.AuditDistributionAssignments]: QueueName.Distribution,
  [JobName.RenderInvoice]: QueueName.Invoices,
  [JobName.IssueMonthlyInvoices]: QueueName.Maintenance,
  [JobName.SweepInvoiceRendering]: QueueName.Maintenance,
  [JobName.PurgeStoredFiles]: QueueName.Maintenance,
  [JobName.ReconciliationDaily]: QueueName.Maintenance,
  [JobName.MatchReconciliation]: QueueName.Reconciliation,
  [JobName.BuildStatement]: QueueName.Reconciliation,
};

/** Jobs one worker process runs at once on each queue. */
export const QUEUE_CONCURRENCY: Record<QueueName, number> = {
  [QueueName.Maintenance]: 1,
  // Two at once: one chunk's generation and sealing (CPU here) overlaps another's COPY (CPU in Postgres).
  [QueueName.Issuance]: 2,
  // One at a time: an export is CPU-bound (decryption) for seconds per million cards; a second would only halve both.
  [QueueName.Exports]: 1,
  // One: a run walks every table in order under a lock; a second job could only wait for it.
  [QueueName.DataKeys]: 1,
  // Delivery batches wait on receivers (up to WEBHOOK_TIMEOUT_MS), not on this CPU: many endpoints at once.
  [QueueName.Webhooks]: 32,
  // Batches of several distributions (or of one large one) at once; each sends its messages concurrently itself.
  [QueueName.Distribution]: 4,
  // Rendering is CPU (font subsetting, compression) with a little I/O between: two at once overlap the two.
  [QueueName.Invoices]: 2,
  // One: a match is one statement busy in Postgres for seconds; two would only share the same cores.
  [QueueName.Reconciliation]: 1,
};

/**
 * The set of jobs and queues a QueueModule serves. Production uses
 * DEFAULT_JOB_CATALOG; tests pass their own so that test-only jobs never
 * appear in the production enums.
 */
export interface JobCatalog {
  /** Job name to queue name. */
  readonly jobs: Readonly<Record<string, string>>;
  /** Queue name to worker concurrency; 1 when absent. */
  readonly concurrency?: Readonly<Record<string, number>>;
}

export const DEFAULT_JOB_CATALOG: JobCatalog = { jobs: JOB_QUEUE, concurrency: QUEUE_CONCURRENCY };

/** The distinct queues of a catalog, in a stable order. */
export function catalogQueues(catalog: JobCatalog): string[] {
  return [...new Set(Object.values(catalog.jobs))].sort();
}
