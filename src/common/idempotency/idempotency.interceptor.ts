import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { TransactionService } from '../../database/transaction.service';
import { canonicalJson, sha256Hex } from '../canonical-json';
import { contextOf } from '../context/context-of';
import { DataCipher } from '../crypto/data-cipher.service';
import { ApiError } from '../errors/api-error';
import { IdempotencyKey } from './idempotency-key.entity';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Namespace of the two-key advisory locks this interceptor takes (others use other namespaces). */
const LOCK_NAMESPACE = 7_301;

/** Associated data of a stored response's envelope: bound to the client and the key it answers. */
export function storedResponseContext(clientId: string, key: string): string {
  return `idempotency:${clientId}:${key}`;
}

export function requestFingerprint(method: string, url: string, body: unknown): string {
  return sha256Hex(`${method} ${url}\n${canonicalJson(body ?? null)}`);
}

/**
 * Idempotency-Key on POSTs marked @Idempotent(). The key is locked, the handler
 * runs, and its response is stored in the same transaction as the handler's own
 * writes: a crash leaves either everything or nothing, never a key without its
 * effect. A request that fails is rolled back with its key, so it can be retried.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly transactions: TransactionService,
    private readonly cipher: DataCipher,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const header = request.headers['idempotency-key'];
    if (header === undefined) return next.handle();
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
      throw ApiError.badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
    }
    const ctx = contextOf(request);
    const clientId = ctx.clientId;
    if (!clientId) return next.handle();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const fingerprint = requestFingerprint(request.method, request.url, request.body);

    return from(
      this.transactions.run(ctx, async (manager) => {
        const [{ locked }] = await manager.query<Array<{ locked: boolean }>>(
          'SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked',
          [LOCK_NAMESPACE, `${clientId}:${header}`],
        );
        if (!locked) {
          throw ApiError.conflict(
            'idempotency_key_in_use',
            'A request with this Idempotency-Key is still in flight; retry shortly',
          );
        }
        const stored = await manager.findOneBy(IdempotencyKey, { clientId, key: header });
        if (stored) {
          if (stored.fingerprint !== fingerprint) {
            throw ApiError.unprocessable(
              'idempotency_key_reused',
              'This Idempotency-Key was already used with a different request; use a new key',
            );
          }
          void reply.header('idempotent-replayed', 'true');
          return this.open(stored.responseBody, clientId, header);
        }
        const body = await lastValueFrom(next.handle() as Observable<object | null | undefined>, {
          defaultValue: undefined,
        });
        await manager.insert(IdempotencyKey, {
          clientId,
          key: header,
          fingerprint,
          responseStatus: this.statusOf(context),
          responseBody: this.seal(body ?? null, clientId, header),
        });
        return body;
      }),
    );
  }

  /**
   * Stored responses can hold secrets shown once (a new client secret): they are
   * kept encrypted, bound to the client and key, never as plain JSON at rest.
   */
  private seal(body: object | null, clientId: string, key: string): object {
    return { sealed: this.cipher.encrypt(JSON.stringify(body), storedResponseContext(clientId, key)) };
  }

  private open(stored: object | null, clientId: string, key: string): unknown {
    const sealed = (stored as { sealed?: unknown } | null)?.sealed;
    if (typeof sealed !== 'string') return stored;
    return JSON.parse(this.cipher.decrypt(sealed, storedResponseContext(clientId, key))) as unknown;
  }

  private statusOf(context: ExecutionContext): number {
    return this.reflector.get<number | undefined>('__httpCode__', context.getHandler()) ?? 201;
  }
}
