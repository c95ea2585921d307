import { BlockList, isIP } from 'node:net';
import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { Actor, RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { isId, newId } from '../common/ids';
import { paginate, type Page } from '../common/pagination/pagination';
import { TransactionService } from '../database/transaction.service';
import { Enterprise } from '../enterprises/enterprise.entity';
import { ApiClient, ApiClientSecret } from './api-client.entity';
import {
  ApiClientDto,
  ApiClientWithSecretDto,
  CreateApiClientDto,
  ListApiClientsQueryDto,
  RotateSecretDto,
} from './dto/api-client.dto';
import { OPERATOR_SCOPES, type Scope } from './scopes';
import { hashSecret, newClientSecret, verifySecret } from './secret-hash';

/** How long a revocation may take to reach other processes' caches. */
const ACTOR_CACHE_MS = 5_000;
const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;
const BOOTSTRAP_LOCK = 8_154_203;

interface CachedActor {
  actor: Actor | null;
  allowlist: BlockList | null;
  expires: number;
}

function blockListOf(entries: string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

function ipAllowed(list: BlockList | null, ip: string | null): boolean {
  if (list === null) return true;
  if (!ip) return false;
  const plain = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
}

function validateCidrs(entries: string[]): void {
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    if (family === 0 || (prefix !== undefined && !(Number(prefix) >= 0 && Number(prefix) <= max))) {
      throw ApiError.validation([{ field: 'ip_allowlist', message: `'${entry}' is not an IP address or CIDR block` }]);
    }
  }
}

/** API clients: creation, secrets and their rotation, revocation, and authentication for the token endpoint. */
@Injectable()
export class ApiClientsService {
  private readonly actors = new Map<string, CachedActor>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
  ) {}

  async create(ctx: RequestContext, dto: CreateApiClientDto): Promise<ApiClientWithSecretDto> {
    const enterpriseId = dto.enterprise_id ?? null;
    const ipAllowlist = dto.ip_allowlist ?? [];
    validateCidrs(ipAllowlist);
    const operatorOnly = dto.scopes.filter((scope) => OPERATOR_SCOPES.includes(scope));
    if (enterpriseId && operatorOnly.length > 0) {
      throw ApiError.unprocessable('scope_not_allowed', `Enterprise clients cannot hold ${operatorOnly.join(', ')}`);
    }
    const enterpriseScopes = dto.scopes.filter((scope) => !OPERATOR_SCOPES.includes(scope));
    if (!enterpriseId && enterpriseScopes.length > 0) {
      throw ApiError.unprocessable(
        'scope_not_allowed',
        `Platform clients cannot hold ${enterpriseScopes.join(', ')}; give an enterprise_id`,
      );
    }
    const secret = newClientSecret();
    const hash = await hashSecret(secret);
    return this.transactions.run(ctx, async (manager) => {
      if (enterpriseId && !(await manager.existsBy(Enterprise, { id: enterpriseId }))) {
        throw ApiError.unprocessable('enterprise_not_found', `No enterprise with id '${enterpriseId}'`);
      }
      const client = await manager.save(
        manager.create(ApiClient, {
          id: newId('apiClient'),
          name: dto.name,
          enterpriseId,
          scopes: dto.scopes,
          ipAllowlist,
          status: 'active',
          revokedAt: null,
        }),
      );
      const stored = await this.addSecret(manager, client.id, secret, hash);
      await this.audit.record(ctx, {
        action: 'api_client.created',
        objectType: 'api_client',
        objectId: client.id,
        enterpriseId,
        after: ApiClientDto.from(client, [stored]),
      });
      return { ...ApiClientDto.from(client, [stored]), client_secret: secret };
    });
  }

  async list(ctx: RequestContext, query: ListApiClientsQueryDto): Promise<Page<ApiClientDto>> {
    const builder = this.dataSource.getRepository(ApiClient).createQueryBuilder('client');
    if (query.enterprise_id)
      builder.andWhere('client.enterpriseId = :enterpriseId', { enterpriseId: query.enterprise_id });
    if (query.status) builder.andWhere('client.status = :status', { status: query.status });
    const page = await paginate(builder, query, (client) => client);
    const secrets = await this.activeSecrets(
      this.dataSource.manager,
      page.data.map((client) => client.id),
    );
    return { ...page, data: page.data.map((client) => ApiClientDto.from(client, secrets.get(client.id) ?? [])) };
  }

  async get(ctx: RequestContext, id: string): Promise<ApiClientDto> {
    if (!isId('apiClient', id)) throw ApiError.notFound('api_client', id);
    const client = await this.dataSource.manager.findOneBy(ApiClient, { id });
    if (!client) throw ApiError.notFound('api_client', id);
    const secrets = await this.activeSecrets(this.dataSource.manager, [id]);
    return ApiClientDto.from(client, secrets.get(id) ?? []);
  }

  async revoke(ctx: RequestContext, id: string): Promise<ApiClientDto> {
    if (!isId('apiClient', id)) throw ApiError.notFound('api_client', id);
    return this.transactions.run(ctx, async (manager) => {
      const client = await manager.findOne(ApiClient, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!client) throw ApiError.notFound('api_client', id);
      if (client.status !== 'revoked') {
        const before = ApiClientDto.from(client, []);
        client.status = 'revoked';
        client.revokedAt = new Date();
        await manager.save(client);
        await manager
          .createQueryBuilder()
          .update(ApiClientSecret)
          .set({ expiresAt: client.revokedAt })
          .where('client_id = :id AND (expires_at IS NULL OR expires_at > :now)', { id, now: client.revokedAt })
          .execute();
        await this.audit.record(ctx, {
          action: 'api_client.revoked',
          objectType: 'api_client',
          objectId: id,
          enterpriseId: client.enterpriseId,
          before,
          after: ApiClientDto.from(client, []),
        });
      }
      await this.transactions.afterCommit(ctx, () => this.forget(id));
      return ApiClientDto.from(client, []);
    });
  }

  /**
   * Issues a new secret; the current one keeps working for the grace period so the
   * client can roll its deployments. At most two secrets are ever active.
   */
  async rotateSecret(ctx: RequestContext, id: string, dto: RotateSecretDto): Promise<ApiClientWithSecretDto> {
    if (!isId('apiClient', id)) throw ApiError.notFound('api_client', id);
    const grace = dto.previous_secret_expires_in ?? DEFAULT_ROTATION_GRACE_SECONDS;
    const secret = newClientSecret();
    const hash = await hashSecret(secret);
    return this.transactions.run(ctx, async (manager) => {
      const client = await manager.findOne(ApiClient, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!client) throw ApiError.notFound('api_client', id);
      if (client.status === 'revoked')
        throw ApiError.conflict('client_revoked', 'A revoked client cannot get new secrets');
      const now = new Date();
      const graceEnd = new Date(now.getTime() + grace * 1000);
      const current = (await this.activeSecrets(manager, [id])).get(id) ?? [];
      // The newest current secret gets the grace period; any older one stops now.
      for (const [index, old] of current.entries()) {
        const end = index === 0 ? graceEnd : now;
        if (old.expiresAt === null || old.expiresAt > end)
          await manager.update(ApiClientSecret, { id: old.id }, { expiresAt: end });
      }
      await this.addSecret(manager, id, secret, hash);
      const active = (await this.activeSecrets(manager, [id])).get(id) ?? [];
      await this.audit.record(ctx, {
        action: 'api_client.secret_rotated',
        objectType: 'api_client',
        objectId: id,
        enterpriseId: client.enterpriseId,
        summary: { previous_secret_expires_at: grace > 0 && current.length > 0 ? graceEnd.toISOString() : null },
      });
      return { ...ApiClientDto.from(client, active), client_secret: secret };
    });
  }

  /** Checks client credentials for the token endpoint (RFC 6749 §5.2 errors). */
  async authenticate(clientId: string, secret: string, ip: string | null): Promise<ApiClient> {
    const client = await this.dataSource.manager.findOneBy(ApiClient, { id: clientId });
    const secrets =
      client && client.status === 'active'
        ? ((await this.activeSecrets(this.dataSource.manager, [clientId])).get(clientId) ?? [])
        : [];
    let valid = false;
    for (const stored of secrets) if (await verifySecret(secret, stored.hash)) valid = true;
    if (!client || !valid) throw ApiError.oauth(401, 'invalid_client', 'Client authentication failed');
    if (!ipAllowed(blockListOf(client.ipAllowlist), ip)) {
      throw ApiError.oauth(401, 'invalid_client', 'Requests from this IP address are not allowed for this client');
    }
    return client;
  }

  /**
   * The actor behind a verified token, if its client is still active and the
   * request comes from an allowed address. Cached briefly: revocation in another
   * process takes effect within ACTOR_CACHE_MS, in this one at once.
   */
  async actorFor(clientId: string, scopes: Scope[], ip: string | null): Promise<Actor | null> {
    const now = Date.now();
    let cached = this.actors.get(clientId);
    if (!cached || cached.expires < now) {
      const client = await this.dataSource.manager.findOneBy(ApiClient, { id: clientId });
      cached = {
        actor:
          client && client.status === 'active'
            ? { clientId, enterpriseId: client.enterpriseId, scopes: new Set(client.scopes) }
            : null,
        allowlist: client ? blockListOf(client.ipAllowlist) : null,
        expires: now + ACTOR_CACHE_MS,
      };
      this.actors.set(clientId, cached);
    }
    if (!cached.actor || !ipAllowed(cached.allowlist, ip)) return null;
    // A token never grants more than its client holds now.
    const granted = scopes.filter((scope) => cached.actor?.scopes.has(scope));
    return { ...cached.actor, scopes: new Set(granted) };
  }

  /**
   * Makes sure the bootstrap operator client from the environment exists and
   * accepts its configured secret; every process runs this at boot, serialised
   * by an advisory lock.
   */
  async ensureBootstrapClient(ctx: RequestContext, clientId: string, secret: string): Promise<void> {
    await this.transactions.run(ctx, async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
      const existing = await manager.findOneBy(ApiClient, { id: clientId });
      if (existing?.status === 'active') {
        const secrets = (await this.activeSecrets(manager, [clientId])).get(clientId) ?? [];
        for (const stored of secrets) if (await verifySecret(secret, stored.hash)) return;
      }
      const fields = { status: 'active' as const, revokedAt: null, scopes: ['admin' as const], enterpriseId: null };
      if (existing) await manager.update(ApiClient, { id: clientId }, fields);
      else await manager.insert(ApiClient, { id: clientId, name: 'Bootstrap operator', ipAllowlist: [], ...fields });
      // The environment is the source of truth for this client: older secrets stop now.
      await manager.update(ApiClientSecret, { clientId, expiresAt: IsNull() }, { expiresAt: new Date() });
      await this.addSecret(manager, clientId, secret, await hashSecret(secret));
      await this.audit.record(ctx, {
        action: existing ? 'api_client.bootstrap_secret_set' : 'api_client.bootstrap_created',
        objectType: 'api_client',
        objectId: clientId,
        enterpriseId: null,
      });
      await this.transactions.afterCommit(ctx, () => this.forget(clientId));
    });
  }

  private forget(clientId: string): void {
    this.actors.delete(clientId);
  }

  private async addSecret(
    manager: EntityManager,
    clientId: string,
    secret: string,
    hash: string,
  ): Promise<ApiClientSecret> {
    return manager.save(
      manager.create(ApiClientSecret, {
        id: newId('apiClientSecret'),
        clientId,
        hash,
        hint: secret.slice(0, 8),
        expiresAt: null,
      }),
    );
  }

  /** Active secrets per client, newest first. */
  private async activeSecrets(manager: EntityManager, clientIds: string[]): Promise<Map<string, ApiClientSecret[]>> {
    const result = new Map<string, ApiClientSecret[]>();
    if (clientIds.length === 0) return result;
    const now = new Date();
    const rows = await manager
      .getRepository(ApiClientSecret)
      .createQueryBuilder('secret')
      .where('secret.clientId IN (:...clientIds)', { clientIds })
      .andWhere('(secret.expiresAt IS NULL OR secret.expiresAt > :now)', { now })
      .orderBy('secret.id', 'DESC')
      .getMany();
    for (const row of rows) result.set(row.clientId, [...(result.get(row.clientId) ?? []), row]);
    return result;
  }
}
