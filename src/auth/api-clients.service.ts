import { BlockList, isIP } from 'node:net';
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { type Actor, RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { newId } from '../common/ids';
import type { Page } from '../common/pagination/pagination';
import { AppConfig } from '../config/app-config';
import { TransactionService } from '../database/transaction.service';
import { EnterpriseStatusHooks } from '../enterprises/enterprise-status-hooks';
import { EnterprisesRepository } from '../enterprises/enterprises.repository';
import type { ApiClient, ApiClientSecret } from './api-client.entity';
import { ApiClientsRepository } from './api-clients.repository';
import {
  ApiClientDto,
  ApiClientWithSecretDto,
  CreateApiClientDto,
  ListApiClientsQueryDto,
  RotateSecretDto,
} from './dto/api-client.dto';
import { OPERATOR_SCOPES, type Scope } from '../common/access/scopes';
import { newClientSecret, SecretHasher } from './secret-hash';

/** How long a revocation may take to reach other processes' caches. */
const ACTOR_CACHE_MS = 5_000;
const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;

interface CachedActor {
  actor: Actor | null;
  allowlist: BlockList | null;
  /** The client's enterprise is suspended: reads only (see AccessRulesGuard). */
  suspended: boolean;
  /** Secrets active when cached, by id: when each stops working (null: not before a rotation). */
  secrets: Map<string, number | null>;
  expires: number;
}

/** A client whose id and secret checked out, from an allowed address. */
export interface AuthenticatedClient {
  client: ApiClient;
  /** The secret it used; its tokens stop working when that secret does. */
  secretId: string;
  /** Its enterprise is suspended: it gets no token. */
  enterpriseSuspended: boolean;
}

/**
 * What can name a client: generated ids (`cli_` + ULID) and the configured ADMIN_CLIENT_ID (`cli_` + 6-64 letters or
 * digits, see AppConfig). Anything else is no client (401 at the token endpoint, 404 on the operator routes) without
 * a database look-up.
 */
const CLIENT_ID = /^cli_[A-Za-z0-9]{6,64}$/;
const isClientId = (id: string) => CLIENT_ID.test(id);

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
    private readonly clients: ApiClientsRepository,
    private readonly enterprises: EnterprisesRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    private readonly hasher: SecretHasher,
    private readonly config: AppConfig,
    statusHooks: EnterpriseStatusHooks,
  ) {
    statusHooks.onStatusChanged((enterpriseId) => this.forgetEnterprise(enterpriseId));
  }

  async create(ctx: RequestContext, dto: CreateApiClientDto): Promise<ApiClientWithSecretDto> {
    const enterpriseId = dto.enterprise_id ?? null;
    const ipAllowlist = dto.ip_allowlist ?? [];
    validateCidrs(ipAllowlist);
    const operatorOnly = dto.scopes.filter((scope) => OPERATOR_SCOPES.includes(scope));
    if (enterpriseId && operatorOnly.length > 0) {
      throw ApiError.unprocessable('scope_not_allowed', `Enterprise clients cannot hold ${operatorOnly.join(', ')}`);
    }
    if (dto.claim_bind_url !== undefined && !dto.scopes.includes('redemptions:write')) {
      throw ApiError.unprocessable(
        'claim_bind_url_not_allowed',
        'Only redemption channels (scope redemptions:write) take a claim_bind_url',
      );
    }
    const enterpriseScopes = dto.scopes.filter((scope) => !OPERATOR_SCOPES.includes(scope));
    if (!enterpriseId && enterpriseScopes.length > 0) {
      throw ApiError.unprocessable(
        'scope_not_allowed',
        `Platform clients cannot hold ${enterpriseScopes.join(', ')}; give an enterprise_id`,
      );
    }
    const secret = newClientSecret();
    const hash = this.hasher.hash(secret);
    return this.transactions.run(ctx, async () => {
      if (enterpriseId && (await this.enterprises.statusOf(ctx, enterpriseId)) === null) {
        throw ApiError.unprocessable('enterprise_not_found', `No enterprise with id '${enterpriseId}'`);
      }
      const client = await this.clients.insert(ctx, {
        id: newId('apiClient'),
        name: dto.name,
        enterpriseId,
        scopes: dto.scopes,
        ipAllowlist,
        claimBindUrl: dto.claim_bind_url ?? null,
        status: 'active',
        revokedAt: null,
      });
      const stored = await this.addSecret(ctx, client.id, secret, hash);
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

  /** The redemption channels an employee may add a distributed card to (the claim page's "add to my account"). */
  claimBindChannels(ctx: RequestContext): Promise<Array<{ id: string; name: string; claimBindUrl: string | null }>> {
    return this.clients.claimBindChannels(ctx, 'redemptions:write');
  }

  async list(ctx: RequestContext, query: ListApiClientsQueryDto): Promise<Page<ApiClientDto>> {
    const page = await this.clients.list(ctx, { enterpriseId: query.enterprise_id, status: query.status }, query);
    const secrets = await this.clients.activeSecrets(
      ctx,
      page.data.map((client) => client.id),
    );
    return { ...page, data: page.data.map((client) => ApiClientDto.from(client, secrets.get(client.id) ?? [])) };
  }

  async get(ctx: RequestContext, id: string): Promise<ApiClientDto> {
    if (!isClientId(id)) throw ApiError.notFound('api_client', id);
    const client = await this.clients.find(ctx, id);
    if (!client) throw ApiError.notFound('api_client', id);
    const secrets = await this.clients.activeSecrets(ctx, [id]);
    return ApiClientDto.from(client, secrets.get(id) ?? []);
  }

  async revoke(ctx: RequestContext, id: string): Promise<ApiClientDto> {
    if (!isClientId(id)) throw ApiError.notFound('api_client', id);
    return this.transactions.run(ctx, async () => {
      const client = await this.clients.find(ctx, id, { lock: true });
      if (!client) throw ApiError.notFound('api_client', id);
      if (client.status !== 'revoked') {
        const before = ApiClientDto.from(client, []);
        client.status = 'revoked';
        client.revokedAt = new Date();
        await this.clients.update(ctx, id, { status: client.status, revokedAt: client.revokedAt });
        await this.clients.expireActiveSecrets(ctx, id, client.revokedAt);
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
    if (!isClientId(id)) throw ApiError.notFound('api_client', id);
    const grace = dto.previous_secret_expires_in ?? DEFAULT_ROTATION_GRACE_SECONDS;
    const secret = newClientSecret();
    const hash = this.hasher.hash(secret);
    return this.transactions.run(ctx, async () => {
      const client = await this.clients.find(ctx, id, { lock: true });
      if (!client) throw ApiError.notFound('api_client', id);
      if (client.status === 'revoked')
        throw ApiError.conflict('client_revoked', 'A revoked client cannot get new secrets');
      const now = new Date();
      const graceEnd = new Date(now.getTime() + grace * 1000);
      const current = (await this.clients.activeSecrets(ctx, [id], now)).get(id) ?? [];
      // The newest current secret gets the grace period; any older one stops now.
      for (const [index, old] of current.entries()) {
        const end = index === 0 ? graceEnd : now;
        if (old.expiresAt === null || old.expiresAt > end) await this.clients.setSecretExpiry(ctx, old.id, end);
      }
      await this.addSecret(ctx, id, secret, hash);
      await this.transactions.afterCommit(ctx, () => this.forget(id));
      const active = (await this.clients.activeSecrets(ctx, [id])).get(id) ?? [];
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

  /**
   * Checks client credentials for the token endpoint: null when the id is unknown, the client revoked, the
   * address not allowed or the secret wrong, all alike (the caller answers one invalid_client for them). The
   * address is checked before the secret, so no secret is tried from a refused address. A legacy (scrypt) hash
   * that matches is replaced with an HMAC one.
   */
  async authenticate(clientId: string, secret: string, ip: string | null): Promise<AuthenticatedClient | null> {
    const ctx = RequestContext.system();
    const client = isClientId(clientId) ? await this.clients.find(ctx, clientId) : null;
    if (!client || client.status !== 'active') {
      this.hasher.dummyCheck(secret);
      return null;
    }
    if (!ipAllowed(blockListOf(client.ipAllowlist), ip)) return null;
    const secrets = (await this.clients.activeSecrets(ctx, [clientId])).get(clientId) ?? [];
    let matched: ApiClientSecret | null = null;
    // Every active secret is checked, so the time taken does not tell which one matched.
    for (const stored of secrets) if ((await this.hasher.verify(secret, stored.hash)) && !matched) matched = stored;
    if (!matched) return null;
    if (this.hasher.isLegacy(matched.hash)) await this.clients.setSecretHash(ctx, matched.id, this.hasher.hash(secret));
    const enterpriseSuspended =
      client.enterpriseId !== null && (await this.enterprises.statusOf(ctx, client.enterpriseId)) === 'suspended';
    return { client, secretId: matched.id, enterpriseSuspended };
  }

  /**
   * The actor behind a verified token, if its client is still active, the secret that minted the token
   * (`secretId`, absent from tokens minted before tokens named it) still works and the request comes from an
   * allowed address. Cached briefly: revocation, rotation and suspension in another process take effect within
   * ACTOR_CACHE_MS, in this one at once.
   */
  async actorFor(clientId: string, scopes: Scope[], ip: string | null, secretId?: string): Promise<Actor | null> {
    const now = Date.now();
    // The cached entry is used without another await: this runs on every authenticated request.
    let cached = this.actors.get(clientId);
    if (!cached || cached.expires < now) cached = await this.loadActor(clientId, now);
    if (!cached.actor || !ipAllowed(cached.allowlist, ip)) return null;
    if (secretId !== undefined) {
      const secretEnd = cached.secrets.get(secretId);
      if (secretEnd === undefined || (secretEnd !== null && secretEnd <= now)) return null;
    }
    // A token never grants more than its client holds now.
    const granted = scopes.filter((scope) => cached.actor?.scopes.has(scope));
    return { ...cached.actor, scopes: new Set(granted) };
  }

  /** The actor's enterprise is suspended, as of the look-up actorFor just made (no query of its own). */
  isSuspended(actor: Actor): boolean {
    return this.actors.get(actor.clientId)?.suspended ?? false;
  }

  /** Called after a tenant's status changed: its clients' cached state is looked up again on their next call. */
  forgetEnterprise(enterpriseId: string): void {
    for (const [clientId, cached] of this.actors) {
      if (cached.actor?.enterpriseId === enterpriseId) this.actors.delete(clientId);
    }
  }

  private async loadActor(clientId: string, now: number): Promise<CachedActor> {
    const ctx = RequestContext.system();
    const client = await this.clients.find(ctx, clientId);
    const active = client?.status === 'active';
    const [secrets, suspended] = await Promise.all([
      active ? this.clients.activeSecrets(ctx, [clientId]) : new Map<string, ApiClientSecret[]>(),
      active && client.enterpriseId !== null
        ? this.enterprises.statusOf(ctx, client.enterpriseId).then((status) => status === 'suspended')
        : false,
    ]);
    const fresh: CachedActor = {
      actor: client && active ? { clientId, enterpriseId: client.enterpriseId, scopes: new Set(client.scopes) } : null,
      allowlist: client ? blockListOf(client.ipAllowlist) : null,
      suspended,
      secrets: new Map((secrets.get(clientId) ?? []).map((secret) => [secret.id, secret.expiresAt?.getTime() ?? null])),
      expires: now + ACTOR_CACHE_MS,
    };
    this.actors.set(clientId, fresh);
    return fresh;
  }

  /**
   * Makes sure the bootstrap operator client from the environment exists and accepts its configured secret;
   * every process runs this at boot, serialised by an advisory lock. A revoked bootstrap client stays revoked:
   * the boot fails unless ADMIN_CLIENT_REACTIVATE is set, so that a revocation survives restarts.
   */
  async ensureBootstrapClient(ctx: RequestContext, clientId: string, secret: string): Promise<void> {
    await this.transactions.run(ctx, async () => {
      await this.clients.lockBootstrap(ctx);
      const existing = await this.clients.find(ctx, clientId);
      const reactivating = existing?.status === 'revoked';
      if (reactivating && !this.config.ADMIN_CLIENT_REACTIVATE) {
        throw new Error(
          `The bootstrap operator client ${clientId} (ADMIN_CLIENT_ID) was revoked; boot does not bring it back. ` +
            'Configure another ADMIN_CLIENT_ID and ADMIN_CLIENT_SECRET, or set ADMIN_CLIENT_REACTIVATE=true for one boot ' +
            'to re-activate it with the configured secret.',
        );
      }
      if (existing?.status === 'active') {
        const secrets = (await this.clients.activeSecrets(ctx, [clientId])).get(clientId) ?? [];
        for (const stored of secrets) {
          if (!(await this.hasher.verify(secret, stored.hash))) continue;
          if (this.hasher.isLegacy(stored.hash))
            await this.clients.setSecretHash(ctx, stored.id, this.hasher.hash(secret));
          return;
        }
      }
      const fields = { status: 'active' as const, revokedAt: null, scopes: ['admin' as const], enterpriseId: null };
      if (existing) await this.clients.update(ctx, clientId, fields);
      else await this.clients.insert(ctx, { id: clientId, name: 'Bootstrap operator', ipAllowlist: [], ...fields });
      // The environment is the source of truth for this client: older secrets stop now.
      await this.clients.expireOpenEndedSecrets(ctx, clientId, new Date());
      await this.addSecret(ctx, clientId, secret, this.hasher.hash(secret));
      await this.audit.record(ctx, {
        action: reactivating
          ? 'api_client.bootstrap_reactivated'
          : existing
            ? 'api_client.bootstrap_secret_set'
            : 'api_client.bootstrap_created',
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

  private addSecret(ctx: RequestContext, clientId: string, secret: string, hash: string): Promise<ApiClientSecret> {
    return this.clients.insertSecret(ctx, {
      id: newId('apiClientSecret'),
      clientId,
      hash,
      hint: secret.slice(0, 8),
      expiresAt: null,
    });
  }
}
