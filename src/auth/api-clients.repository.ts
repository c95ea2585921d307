import { Injectable } from '@nestjs/common';
import { IsNull } from 'typeorm';
import type { RequestContext } from '../common/context/request-context';
import { type ListQueryDto, type Page } from '../common/pagination/pagination';
import { paginate } from '../database/paginate';
import { TransactionalConnection } from '../database/transactional-connection';
import type { Scope } from '../common/access/scopes';
import { ApiClient, ApiClientSecret, type ApiClientStatus } from './api-client.entity';

/** Serialises the boot of every process that makes sure the bootstrap operator client exists. */
const BOOTSTRAP_LOCK = 8_154_203;

export type NewApiClient = Omit<ApiClient, 'createdAt' | 'claimBindUrl'> & { claimBindUrl?: string | null };
export type NewApiClientSecret = Omit<ApiClientSecret, 'createdAt'>;

export interface ApiClientFilter {
  enterpriseId?: string;
  status?: ApiClientStatus;
}

/** A report line's API client name: `<alias>.name` after this join on the line's `<column>` (a client id). */
export function apiClientNameJoinSql(column: string, alias: string): string {
  return `LEFT JOIN api_clients ${alias} ON ${alias}.id = ${column}`;
}

/** api_clients and api_client_secrets. */
@Injectable()
export class ApiClientsRepository {
  constructor(private readonly connection: TransactionalConnection) {}

  /** The client; `lock`: its row locked until the context's transaction ends. */
  async find(ctx: RequestContext, id: string, { lock = false } = {}): Promise<ApiClient | null> {
    if (!lock) return this.connection.manager(ctx).findOneBy(ApiClient, { id });
    return this.connection
      .transactionManager(ctx, 'ApiClientsRepository.find with a lock')
      .findOne(ApiClient, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  async list(ctx: RequestContext, filter: ApiClientFilter, page: ListQueryDto): Promise<Page<ApiClient>> {
    const builder = this.connection.manager(ctx).createQueryBuilder(ApiClient, 'client');
    if (filter.enterpriseId)
      builder.andWhere('client.enterpriseId = :enterpriseId', { enterpriseId: filter.enterpriseId });
    if (filter.status) builder.andWhere('client.status = :status', { status: filter.status });
    return paginate(builder, page, (client) => client);
  }

  /** Inserts the client and returns it as stored (with its creation time). */
  async insert(ctx: RequestContext, client: NewApiClient): Promise<ApiClient> {
    const manager = this.connection.manager(ctx);
    return manager.save(manager.create(ApiClient, client));
  }

  async update(
    ctx: RequestContext,
    id: string,
    changes: Partial<Pick<ApiClient, 'status' | 'revokedAt' | 'scopes' | 'enterpriseId'>>,
  ): Promise<void> {
    await this.connection.manager(ctx).update(ApiClient, { id }, changes);
  }

  /**
   * Active redemption channels (operator clients holding `scope`) that set a claim_bind_url: what the claim page
   * offers as "add to my account", oldest first.
   */
  async claimBindChannels(
    ctx: RequestContext,
    scope: Scope,
  ): Promise<Array<Pick<ApiClient, 'id' | 'name' | 'claimBindUrl'>>> {
    const rows = await this.connection.query<Array<{ id: string; name: string; claim_bind_url: string }>>(
      ctx,
      `SELECT id, name, claim_bind_url FROM api_clients
       WHERE status = 'active' AND enterprise_id IS NULL AND claim_bind_url IS NOT NULL AND $1 = ANY(scopes)
       ORDER BY created_at, id LIMIT 5`,
      [scope],
    );
    return rows.map((row) => ({ id: row.id, name: row.name, claimBindUrl: row.claim_bind_url }));
  }

  async insertSecret(ctx: RequestContext, secret: NewApiClientSecret): Promise<ApiClientSecret> {
    const manager = this.connection.manager(ctx);
    return manager.save(manager.create(ApiClientSecret, secret));
  }

  /** Active secrets (no expiry, or one after `now`) per client, newest first. */
  async activeSecrets(
    ctx: RequestContext,
    clientIds: string[],
    now = new Date(),
  ): Promise<Map<string, ApiClientSecret[]>> {
    const result = new Map<string, ApiClientSecret[]>();
    if (clientIds.length === 0) return result;
    const rows = await this.connection
      .manager(ctx)
      .createQueryBuilder(ApiClientSecret, 'secret')
      .where('secret.clientId IN (:...clientIds)', { clientIds })
      .andWhere('(secret.expiresAt IS NULL OR secret.expiresAt > :now)', { now })
      .orderBy('secret.id', 'DESC')
      .getMany();
    for (const row of rows) result.set(row.clientId, [...(result.get(row.clientId) ?? []), row]);
    return result;
  }

  async setSecretExpiry(ctx: RequestContext, secretId: string, expiresAt: Date): Promise<void> {
    await this.connection.manager(ctx).update(ApiClientSecret, { id: secretId }, { expiresAt });
  }

  async setSecretHash(ctx: RequestContext, secretId: string, hash: string): Promise<void> {
    await this.connection.manager(ctx).update(ApiClientSecret, { id: secretId }, { hash });
  }

  /** Every secret of the client still working at `at` stops then. */
  async expireActiveSecrets(ctx: RequestContext, clientId: string, at: Date): Promise<void> {
    await this.connection
      .manager(ctx)
      .createQueryBuilder()
      .update(ApiClientSecret)
      .set({ expiresAt: at })
      .where('client_id = :clientId AND (expires_at IS NULL OR expires_at > :at)', { clientId, at })
      .execute();
  }

  /** Every secret of the client without an expiry stops at `at`. */
  async expireOpenEndedSecrets(ctx: RequestContext, clientId: string, at: Date): Promise<void> {
    await this.connection.manager(ctx).update(ApiClientSecret, { clientId, expiresAt: IsNull() }, { expiresAt: at });
  }

  /** Until the context's transaction ends, no other process runs its bootstrap of the operator client. */
  async lockBootstrap(ctx: RequestContext): Promise<void> {
    await this.connection
      .transactionManager(ctx, 'ApiClientsRepository.lockBootstrap')
      .query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
  }
}
