import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { ApiConflictResponse, ApiHeader, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { Problem } from '../common/errors/problem';
import { STORED_BY_HANDLER } from './idempotency-claims';
import { IdempotencyInterceptor } from './idempotency.interceptor';

/**
 * The POST accepts an Idempotency-Key: its handler, its writes and the stored
 * response commit in one transaction, so a retry replays the first outcome.
 * Bound per route, not globally: a global interceptor would put every other
 * request through Nest's rxjs pipeline for nothing.
 */
export function Idempotent(options: { storedByHandler?: boolean } = {}) {
  return applyDecorators(
    // storedByHandler: the handler stores the key in its own single statement (IdempotencyClaims).
    SetMetadata(STORED_BY_HANDLER, options.storedByHandler === true),
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
      description:
        'Unique key (1 to 255 visible ASCII characters) that makes a retry safe: the same key with the same body returns the stored response; with another body, 422.',
    }),
    ApiConflictResponse({ type: Problem, description: 'A request with this Idempotency-Key is still in flight' }),
    ApiUnprocessableEntityResponse({ type: Problem, description: 'The Idempotency-Key was used with another request' }),
  );
}
