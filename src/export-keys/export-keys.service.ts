import { Injectable } from '@nestjs/common';
import { DataSource, Not, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import { type Page, paginate } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { readRecipientKey } from '../exports/recipient-key';
import {
  type ConfirmExportKeyDto,
  ExportKeyDto,
  type ListExportKeysQueryDto,
  type RegisterExportKeyDto,
} from './dto/export-key.dto';
import { ExportKey } from './export-key.entity';
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
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
  ) {}

  async register(ctx: RequestContext, dto: RegisterExportKeyDto): Promise<ExportKeyDto> {
    const enterpriseId = ctx.enterpriseId;
    // Checked before the transaction: a bad key is the caller's mistake and needs no lock.
    const { encryption } = await readRecipientKey(dto.public_key, 'public_key');
    return this.transactions.run(ctx, async (manager) => {
      // Serialises registrations of one enterprise, so the count and the duplicate check below hold.
      await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`export_keys:${enterpriseId}`]);
      const active = await manager.find(ExportKey, {
        where: { enterpriseId, status: Not('revoked') },
        select: { id: true, fingerprint: true },
      });
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
      const key = manager.create(ExportKey, {
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
      });
      await manager.insert(ExportKey, key);
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
    const builder = this.dataSource.getRepository(ExportKey).createQueryBuilder('key');
    if (ctx.isOperator) {
      if (query.enterprise_id)
        builder.andWhere('key.enterpriseId = :enterpriseId', { enterpriseId: query.enterprise_id });
    } else {
      this.assertMayRead(ctx);
      builder.andWhere('key.enterpriseId = :enterpriseId', { enterpriseId: ctx.enterpriseId });
    }
    if (query.status) builder.andWhere('key.status = :status', { status: query.status });
    return paginate(builder, query, (key) => ExportKeyDto.from(key));
  }

  async get(ctx: RequestContext, id: string): Promise<ExportKeyDto> {
    if (!ctx.isOperator) this.assertMayRead(ctx);
    return ExportKeyDto.from(await this.find(this.dataSource.manager, ctx, id));
  }

  /** The second party's confirmation, naming the fingerprint it checked with the key's owner. */
  async confirm(ctx: RequestContext, id: string, dto: ConfirmExportKeyDto): Promise<ExportKeyDto> {
    return this.transactions.run(ctx, async (manager) => {
      const key = await this.find(manager, ctx, id, true);
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
      Object.assign(key, { status: 'confirmed', confirmedByClientId: ctx.clientId, confirmedAt: new Date() });
      await manager.save(key);
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
    return this.transactions.run(ctx, async (manager) => {
      const key = await this.find(manager, ctx, id, true);
      if (key.status === 'revoked') return ExportKeyDto.from(key);
      Object.assign(key, { status: 'revoked', revokedByClientId: ctx.clientId, revokedAt: new Date() });
      await manager.save(key);
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
   * The confirmed key of `enterpriseId` an export names, read in the export's transaction (locked against a
   * concurrent revocation). 422 `export_key_not_found`, `export_key_not_confirmed` or `export_key_revoked`.
   */
  async usableKey(manager: EntityManager, enterpriseId: string, id: string): Promise<ExportKey> {
    const key = isId('exportKey', id)
      ? await manager.findOne(ExportKey, { where: { id, enterpriseId }, lock: { mode: 'pessimistic_read' } })
      : null;
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

  /** The key by id: any enterprise's for the operator, else the caller's enterprise's only (404 otherwise). */
  private async find(manager: EntityManager, ctx: RequestContext, id: string, lock = false): Promise<ExportKey> {
    const where = ctx.isOperator ? { id } : { id, enterpriseId: ctx.enterpriseId };
    const key = isId('exportKey', id)
      ? await manager.findOne(ExportKey, { where, ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}) })
      : null;
    if (!key) throw notFound(id);
    return key;
  }
}
