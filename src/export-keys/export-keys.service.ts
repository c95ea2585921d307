import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { readRecipientKey } from './recipient-key';
import {
  type ConfirmExportKeyDto,
  ExportKeyDto,
  type ListExportKeysQueryDto,
  type RegisterExportKeyDto,
} from './dto/export-key.dto';
import type { ExportKey } from './export-key.entity';
import { ExportKeysRepository, type ExportKeyLock } from './export-keys.repository';
import { assertSecondApprover } from './second-approval';

/** Registered (not revoked) keys per enterprise: a few per receiving system is plenty. */
export const MAX_EXPORT_KEYS = 20;

const notFound = (id: string) => ApiError.notFound('export key', id);

/**
 * The recipient keys an enterprise's card-code exports may be encrypted to. A key is registered by a client with
 * cards:secrets, and usable only once the operator or another client of the enterprise with orders:approve has
 * confirmed its fingerprint; any of them may revoke it. Each step is in the audit chain.
 */
@Injectable()
export class ExportKeysService {
  constructor(
    private readonly keys: ExportKeysRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
  ) {}

  async register(ctx: RequestContext, dto: RegisterExportKeyDto): Promise<ExportKeyDto> {
    const enterpriseId = ctx.enterpriseId;
    // Checked before the transaction: a bad key is the caller's mistake and needs no lock.
    const { encryption } = await readRecipientKey(dto.public_key, 'public_key');
    return this.transactions.run(ctx, async () => {
      // Serialises registrations of one enterprise, so the count and the duplicate check below hold.
      await this.keys.lockRegistrations(ctx, enterpriseId);
      const active = await this.keys.registered(ctx, enterpriseId);
      const same = active.find((key) => key.fingerprint === encryption.recipient_fingerprint);
      if (same) {
        throw ApiError.conflict('export_key_exists', `This key is registered already as '${same.id}'`, {
          export_key_id: same.id,
        });
      }
      if (active.length >= MAX_EXPORT_KEYS) {
        throw ApiError.unprocessable(
          'too_many_export_keys',
          `An enterprise has at most ${MAX_EXPORT_KEYS} export keys; revoke one first`,
        );
      }
      const key: ExportKey = {
        id: newId('exportKey'),
        enterpriseId,
        label: dto.label ?? null,
        fingerprint: encryption.recipient_fingerprint,
        encryptionKeyId: encryption.encryption_key_id,
        algorithm: encryption.algorithm,
        userIds: encryption.user_ids,
        publicKey: encryption.public_key,
        status: 'pending_confirmation',
        registeredByClientId: ctx.clientId!,
        confirmedByClientId: null,
        confirmedAt: null,
        revokedByClientId: null,
        revokedAt: null,
        createdAt: new Date(),
      };
      await this.keys.insert(ctx, key);
      await this.audit.record(ctx, {
        action: 'export_key.registered',
        objectType: 'export_key',
        objectId: key.id,
        enterpriseId,
        summary: { fingerprint: key.fingerprint, algorithm: key.algorithm, user_ids: key.userIds, label: key.label },
      });
      return ExportKeyDto.from(key);
    });
  }

  async list(ctx: RequestContext, query: ListExportKeysQueryDto): Promise<Page<ExportKeyDto>> {
    if (!ctx.isOperator) this.assertMayRead(ctx);
    const enterpriseId = ctx.isOperator ? query.enterprise_id : ctx.enterpriseId;
    const page = await this.keys.list(ctx, { enterpriseId, status: query.status }, query);
    return { ...page, data: page.data.map((key) => ExportKeyDto.from(key)) };
  }

  async get(ctx: RequestContext, id: string): Promise<ExportKeyDto> {
    if (!ctx.isOperator) this.assertMayRead(ctx);
    return ExportKeyDto.from(await this.find(ctx, id));
  }

  /** The second party's confirmation, naming the fingerprint it checked with the key's owner. */
  async confirm(ctx: RequestContext, id: string, dto: ConfirmExportKeyDto): Promise<ExportKeyDto> {
    return this.transactions.run(ctx, async () => {
      const key = await this.find(ctx, id, 'write');
      assertSecondApprover(ctx, key.enterpriseId, key.registeredByClientId, () => notFound(id));
      if (key.status !== 'pending_confirmation') {
        throw ApiError.conflict('invalid_state', `Export key '${id}' is ${key.status}`, { status: key.status });
      }
      if (dto.fingerprint !== key.fingerprint) {
        throw ApiError.unprocessable(
          'fingerprint_mismatch',
          'The fingerprint given is not the registered key’s: check the key with its owner before confirming it',
        );
      }
      const confirmed = { status: 'confirmed' as const, confirmedByClientId: ctx.clientId, confirmedAt: new Date() };
      Object.assign(key, confirmed);
      await this.keys.update(ctx, key.id, confirmed);
      await this.audit.record(ctx, {
        action: 'export_key.confirmed',
        objectType: 'export_key',
        objectId: key.id,
        enterpriseId: key.enterpriseId,
        summary: { fingerprint: key.fingerprint, registered_by_client_id: key.registeredByClientId },
      });
      return ExportKeyDto.from(key);
    });
  }

  /** Revoking only takes a capability away: any client that may read the keys, or the operator, may do it. */
  async revoke(ctx: RequestContext, id: string): Promise<ExportKeyDto> {
    if (!ctx.isOperator) this.assertMayRead(ctx);
    return this.transactions.run(ctx, async () => {
      const key = await this.find(ctx, id, 'write');
      if (key.status === 'revoked') return ExportKeyDto.from(key);
      const revoked = { status: 'revoked' as const, revokedByClientId: ctx.clientId, revokedAt: new Date() };
      Object.assign(key, revoked);
      await this.keys.update(ctx, key.id, revoked);
      await this.audit.record(ctx, {
        action: 'export_key.revoked',
        objectType: 'export_key',
        objectId: key.id,
        enterpriseId: key.enterpriseId,
        summary: { fingerprint: key.fingerprint },
      });
      return ExportKeyDto.from(key);
    });
  }

  /**
   * The confirmed key of `enterpriseId` an export names, read in the context's transaction (locked against a
   * concurrent revocation). 422 `export_key_not_found`, `export_key_not_confirmed` or `export_key_revoked`.
   */
  async usableKey(ctx: RequestContext, enterpriseId: string, id: string): Promise<ExportKey> {
    const key = isId('exportKey', id) ? await this.keys.find(ctx, { id, enterpriseId }, 'read') : null;
    if (!key) {
      throw ApiError.unprocessable('export_key_not_found', `No export key '${id}' in your enterprise`, {
        export_key_id: id,
      });
    }
    if (key.status === 'pending_confirmation') {
      throw ApiError.unprocessable(
        'export_key_not_confirmed',
        `Export key '${id}' waits for confirmation by the operator or another client with orders:approve`,
        { export_key_id: id },
      );
    }
    if (key.status === 'revoked') {
      throw ApiError.unprocessable('export_key_revoked', `Export key '${id}' was revoked`, { export_key_id: id });
    }
    return key;
  }

  private assertMayRead(ctx: RequestContext): void {
    const scopes = ctx.actor?.scopes;
    if (!scopes?.has('cards:secrets') && !scopes?.has('orders:approve')) {
      throw ApiError.forbidden('insufficient_scope', 'Export keys need the scope cards:secrets or orders:approve');
    }
  }

  /** Whether the key is (still) confirmed: a build stops when its key was revoked since the request. */
  async isConfirmed(ctx: RequestContext, id: string): Promise<boolean> {
    return (await this.keys.find(ctx, { id }))?.status === 'confirmed';
  }

  /** The key by id: any enterprise's for the operator, else the caller's enterprise's only (404 otherwise). */
  private async find(ctx: RequestContext, id: string, lock?: ExportKeyLock): Promise<ExportKey> {
    const where = ctx.isOperator ? { id } : { id, enterpriseId: ctx.enterpriseId };
    const key = isId('exportKey', id) ? await this.keys.find(ctx, where, lock) : null;
    if (!key) throw notFound(id);
    return key;
  }
}
