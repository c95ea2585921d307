import { Global, Module } from '@nestjs/common';
import { IdempotencyClaims } from './idempotency-claims';
import { IdempotencyPurgeJob } from './idempotency-purge.job';
import { IdempotencyRepository } from './idempotency.repository';

/**
 * What @Idempotent() routes need, in every module that has them (auth, cards, data-keys, exports, export-keys,
 * orders, webhooks): global until those modules import it themselves. Imported by OrdersModule, whose single-
 * statement order creation stores the key itself (docs/architecture.md).
 */
@Global()
@Module({
  // The purge job too: every process imports this module, and a worker refuses to boot while a job has no handler.
  providers: [IdempotencyRepository, IdempotencyClaims, IdempotencyPurgeJob],
  exports: [IdempotencyRepository, IdempotencyClaims],
})
export class IdempotencyModule {}
