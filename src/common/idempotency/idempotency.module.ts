import { Global, Module } from '@nestjs/common';
import { IdempotencyClaims } from './idempotency-claims';
import { IdempotencyRepository } from './idempotency.repository';

/**
 * What @Idempotent() routes need, in every module that has them (auth, cards, data-keys, exports, export-keys,
 * orders, webhooks): global until those modules import it themselves. Imported by OrdersModule, whose single-
 * statement order creation stores the key itself (docs/architecture.md).
 */
@Global()
@Module({ providers: [IdempotencyRepository, IdempotencyClaims], exports: [IdempotencyRepository, IdempotencyClaims] })
export class IdempotencyModule {}
