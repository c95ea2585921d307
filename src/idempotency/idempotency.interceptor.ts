import { Readable } from 'node:stream';
import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { TransactionService } from '../database/transaction.service';
import { canonicalJson, sha256Hex } from '../common/canonical-json';
import { contextOf } from '../common/context/context-of';
import { DataCipher } from '../common/crypto/data-cipher.service';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { IdempotencyClaims, STORED_BY_HANDLER } from './idempotency-claims';
import { IdempotencyRepository, isStoredKeyConflict, type IdempotencyClaim } from './idempotency.repository';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** Associated data of a stored response's envelope: bound to the client and the key it answers. */
export function storedResponseContext(clientId: string, key: string): string {
  return `idempotency:${clientId}:${key}`;
}

/**
 * What of the body a fingerprint covers: the parsed body, or for a file streamed to its handler (UPLOAD_ROUTES) its
 * content type and length, since it cannot be read ahead of the handler.
 */
function fingerprintedBody(request: FastifyRequest): unknown {
  if (!(request.body instanceof Readable)) return request.body;
  return {
    streamed: { content_type: request.headers['content-type'], content_length: request.headers['content-length'] },
  };
}

export function requestFingerprint(method: string, url: string, body: unknown): string {
  return sha256Hex(`${method} ${url}\n${canonicalJson(body ?? null)}`);
}

/**
 * Idempotency-Key on POSTs marked @Idempotent(). The key is locked, the handler
 * runs, and its response is stored in the same transaction as the handler's own
 * writes: a crash leaves either everything or nothing, never a key without its
 * effect. A request that fails is rolled back with its key, so it can be retried.
 *
 * A route marked @Idempotent({ storedByHandler: true }) writes in ONE statement of its own (order creation,
 * docs/architecture.md): the interceptor hands the claim to the handler, whose statement looks the key up, takes
 * its lock and stores the response with its writes, or reports the response stored before (then replayed). A key
 * stored by a concurrent request after that statement's snapshot fails it (unique violation); the request is then
 * answered as a replay, and so is a refused request whose key holds a stored response.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly transactions: TransactionService,
    private readonly cipher: DataCipher,
    private readonly keys: IdempotencyRepository,
    private readonly claims: IdempotencyClaims,
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
    const fingerprint = requestFingerprint(request.method, request.url, fingerprintedBody(request));

    if (this.reflector.get<boolean | undefined>(STORED_BY_HANDLER, context.getHandler())) {
      const claim: IdempotencyClaim = {
        clientId,
        key: header,
        fingerprint,
        responseStatus: this.statusOf(context),
        seal: (body) => this.seal(body, clientId, header),
      };
      return from(this.storedByHandler(ctx, claim, reply, next));
    }
    return from(
      this.transactions.run(ctx, async () => {
        if (!(await this.keys.tryLock(ctx, clientId, header))) throw this.inFlight();
        const stored = await this.keys.find(ctx, clientId, header);
        if (stored) return this.replay(stored, fingerprint, clientId, header, reply);
        const body = await lastValueFrom(next.handle() as Observable<object | null | undefined>, {
          defaultValue: undefined,
        });
        await this.keys.insert(ctx, {
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

  /** See the class comment: the handler's own statement looks the key up, claims and stores it. */
  private async storedByHandler(
    ctx: RequestContext,
    claim: IdempotencyClaim,
    reply: FastifyReply,
    next: CallHandler,
  ): Promise<unknown> {
    this.claims.begin(ctx, claim);
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      this.claims.end(ctx);
      // A refusal (or a key stored by a request that committed after the statement's snapshot): a stored response
      // wins, as it would have had the key been looked up first.
      if (!(error instanceof ApiError) && !isStoredKeyConflict(error)) throw error;
      const earlier = await this.keys.find(ctx, claim.clientId, claim.key);
      if (!earlier) throw error;
      return this.replay(earlier, claim.fingerprint, claim.clientId, claim.key, reply);
    }
    const outcome = this.claims.end(ctx);
    if (!outcome) throw new Error('an @Idempotent({ storedByHandler: true }) handler did not store its key');
    if (!outcome.stored) return this.replay(outcome.earlier, claim.fingerprint, claim.clientId, claim.key, reply);
    return body;
  }

  /** The request that holds the key is still running. */
  private inFlight(): ApiError {
    return IdempotencyInterceptor.inFlight();
  }

  private replay(
    stored: { fingerprint: string; responseBody: object | null },
    fingerprint: string,
    clientId: string,
    key: string,
    reply: FastifyReply,
  ): unknown {
    if (stored.fingerprint !== fingerprint) {
      throw ApiError.unprocessable(
        'idempotency_key_reused',
        'This Idempotency-Key was already used with a different request; use a new key',
      );
    }
    void reply.header('idempotent-replayed', 'true');
    return this.open(stored.responseBody, clientId, key);
  }

  /** For handlers that store their key themselves: the claim turned away because another request holds it. */
  static inFlight(): ApiError {
    return ApiError.conflict(
      'idempotency_key_in_use',
      'A request with this Idempotency-Key is still in flight; retry shortly',
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
