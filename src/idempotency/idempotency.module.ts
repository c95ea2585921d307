import { CryptoModule } from '../common/crypto/crypto.module';
import { Module } from '@nestjs/common';
import { IdempotencyClaims } from './idempotency-claims';
import { IdempotencyPurgeJob } from './idempotency-purge.job';
import { IdempotencyRepository } from './idempotency.repository';

/**
 * What @Idempotent() routes need: every module with such a route imports this one (Nest builds the interceptor in
 * the route's module, so the interceptor's dependencies, DataCipher included, are exported from here).
 */
@Module({
  imports: [CryptoModule],
  // The purge job too: every process imports this module, and a worker refuses to boot while a job has no handler.
  providers: [IdempotencyRepository, IdempotencyClaims, IdempotencyPurgeJob],
  exports: [IdempotencyRepository, IdempotencyClaims, CryptoModule],
})
export class IdempotencyModule {}
