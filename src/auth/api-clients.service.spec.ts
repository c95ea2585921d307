import type { RequestContext } from '../common/context/request-context';
import type { ListQueryDto, Page } from '../common/pagination/pagination';
import type { AppConfig } from '../config/app-config';
import type { EnterpriseStatus } from '../enterprises/enterprise.entity';
import type { EnterprisesRepository } from '../enterprises/enterprises.repository';
import { EnterpriseStatusHooks } from '../enterprises/enterprise-status-hooks';
import { clientContext, expectApiError, FakeAudit, FakeTransactions, operatorContext } from '../../test/support/unit';
import type { ApiClient, ApiClientSecret } from './api-client.entity';
import type { ApiClientFilter, ApiClientsRepository, NewApiClient, NewApiClientSecret } from './api-clients.repository';
import { ApiClientsService } from './api-clients.service';
import { SecretHasher } from './secret-hash';

const ENTERPRISE = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';

/** api_clients and api_client_secrets in memory, with the repository's semantics. */
class FakeClients {
  readonly clients = new Map<string, ApiClient>();
  readonly secrets: ApiClientSecret[] = [];
  reads = 0;
  bootstrapLocked = false;

  async find(_ctx: RequestContext, id: string): Promise<ApiClient | null> {
    this.reads++;
    const client = this.clients.get(id);
    return client ? { ...client } : null;
  }

  async list(_ctx: RequestContext, filter: ApiClientFilter, _page: ListQueryDto): Promise<Page<ApiClient>> {
    const data = [...this.clients.values()].filter(
      (client) =>
        (!filter.enterpriseId || client.enterpriseId === filter.enterpriseId) &&
        (!filter.status || client.status === filter.status),
    );
    return { object: 'list', data, has_more: false, next_cursor: null };
  }

  async insert(_ctx: RequestContext, client: NewApiClient): Promise<ApiClient> {
    const stored = { ...client, claimBindUrl: client.claimBindUrl ?? null, createdAt: new Date() };
    this.clients.set(client.id, stored);
    return { ...stored };
  }

  async update(_ctx: RequestContext, id: string, changes: Partial<ApiClient>): Promise<void> {
    this.clients.set(id, { ...this.clients.get(id)!, ...changes });
  }

  async insertSecret(_ctx: RequestContext, secret: NewApiClientSecret): Promise<ApiClientSecret> {
    const stored = { ...secret, createdAt: new Date() };
    this.secrets.push(stored);
    return { ...stored };
  }

  async activeSecrets(_ctx: RequestContext, ids: string[], now = new Date()): Promise<Map<string, ApiClientSecret[]>> {
    const result = new Map<string, ApiClientSecret[]>();
    const active = this.secrets
      .filter((secret) => ids.includes(secret.clientId) && (secret.expiresAt === null || secret.expiresAt > now))
      .sort((a, b) => b.id.localeCompare(a.id));
    for (const secret of active) result.set(secret.clientId, [...(result.get(secret.clientId) ?? []), { ...secret }]);
    return result;
  }

  async setSecretExpiry(_ctx: RequestContext, id: string, expiresAt: Date): Promise<void> {
    this.secrets.find((secret) => secret.id === id)!.expiresAt = expiresAt;
  }

  async setSecretHash(_ctx: RequestContext, id: string, hash: string): Promise<void> {
    this.secrets.find((secret) => secret.id === id)!.hash = hash;
  }

  async expireActiveSecrets(_ctx: RequestContext, clientId: string, at: Date): Promise<void> {
    for (const secret of this.secrets) {
      if (secret.clientId === clientId && (secret.expiresAt === null || secret.expiresAt > at)) secret.expiresAt = at;
    }
  }

  async expireOpenEndedSecrets(_ctx: RequestContext, clientId: string, at: Date): Promise<void> {
    for (const secret of this.secrets)
      if (secret.clientId === clientId && secret.expiresAt === null) secret.expiresAt = at;
  }

  async lockBootstrap(ctx: RequestContext): Promise<void> {
    expect(ctx.transaction).toBeDefined();
    this.bootstrapLocked = true;
  }
}

function setup(config: Partial<AppConfig> = {}) {
  const clients = new FakeClients();
  const enterprises = new Map<string, EnterpriseStatus>([[ENTERPRISE, 'active']]);
  const statuses = {
    statusOf: async (_ctx: RequestContext, id: string) => enterprises.get(id) ?? null,
  } as unknown as EnterprisesRepository;
  const audit = new FakeAudit();
  const fullConfig = {
    CLIENT_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
    ADMIN_CLIENT_REACTIVATE: false,
    ...config,
  } as AppConfig;
  const statusHooks = new EnterpriseStatusHooks();
  const service = new ApiClientsService(
    clients as unknown as ApiClientsRepository,
    statuses,
    new FakeTransactions().service,
    audit.service,
    new SecretHasher(fullConfig),
    fullConfig,
    statusHooks,
  );
  return { service, clients, enterprises, audit, statusHooks };
}

describe('ApiClientsService', () => {
  const operator = operatorContext();

  describe('create', () => {
    it('refuses operator scopes for enterprise clients and enterprise scopes for platform clients', async () => {
      const { service, clients } = setup();
      await expectApiError(
        service.create(operator, { name: 'x', enterprise_id: ENTERPRISE, scopes: ['admin'] }),
        422,
        'scope_not_allowed',
      );
      await expectApiError(service.create(operator, { name: 'x', scopes: ['orders:write'] }), 422, 'scope_not_allowed');
      expect(clients.clients.size).toBe(0);
    });

    it('refuses an enterprise that does not exist', async () => {
      const { service } = setup();
      await expectApiError(
        service.create(operator, {
          name: 'x',
          enterprise_id: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XZZ',
          scopes: ['orders:write'],
        }),
        422,
        'enterprise_not_found',
      );
    });

    it('stores the client with one hashed secret, shows the secret once and audits it', async () => {
      const { service, clients, audit } = setup();
      const created = await service.create(operator, {
        name: 'HR',
        enterprise_id: ENTERPRISE,
        scopes: ['orders:write'],
      });
      expect(created.client_secret).toEqual(expect.any(String));
      expect(clients.secrets).toHaveLength(1);
      expect(clients.secrets[0].hash).not.toContain(created.client_secret);
      expect(clients.secrets[0].hint).toBe(created.client_secret.slice(0, 8));
      expect(audit.actions()).toEqual(['api_client.created']);
      expect(audit.inTransaction).toEqual([true]);
      expect(await service.authenticate(created.id, created.client_secret, null)).toMatchObject({
        client: { id: created.id },
        enterpriseSuspended: false,
      });
    });
  });

  describe('authenticate', () => {
    it('answers null alike for an unknown id, a wrong secret and a refused address', async () => {
      const { service } = setup();
      const created = await service.create(operator, {
        name: 'HR',
        enterprise_id: ENTERPRISE,
        scopes: ['orders:write'],
        ip_allowlist: ['198.51.100.0/24'],
      });
      expect(await service.authenticate('cli_unknown01', created.client_secret, '198.51.100.1')).toBeNull();
      expect(await service.authenticate(created.id, 'wrong', '198.51.100.1')).toBeNull();
      expect(await service.authenticate(created.id, created.client_secret, '203.0.113.1')).toBeNull();
      expect(await service.authenticate(created.id, created.client_secret, '::ffff:198.51.100.9')).not.toBeNull();
    });

    it('tells when the client’s enterprise is suspended', async () => {
      const { service, enterprises } = setup();
      const created = await service.create(operator, {
        name: 'HR',
        enterprise_id: ENTERPRISE,
        scopes: ['orders:write'],
      });
      enterprises.set(ENTERPRISE, 'suspended');
      expect(await service.authenticate(created.id, created.client_secret, null)).toMatchObject({
        enterpriseSuspended: true,
      });
    });
  });

  describe('rotateSecret', () => {
    it('keeps the newest secret for the grace period, stops older ones now, and adds one', async () => {
      const { service, clients } = setup();
      const created = await service.create(operator, {
        name: 'HR',
        enterprise_id: ENTERPRISE,
        scopes: ['orders:write'],
      });
      const second = await service.rotateSecret(operator, created.id, { previous_secret_expires_in: 3600 });
      const third = await service.rotateSecret(operator, created.id, { previous_secret_expires_in: 3600 });
      const [first, middle, newest] = clients.secrets;
      expect(first.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now());
      expect(middle.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3500_000);
      expect(newest.expiresAt).toBeNull();
      expect(await service.authenticate(created.id, created.client_secret, null)).toBeNull();
      expect(await service.authenticate(created.id, second.client_secret, null)).not.toBeNull();
      expect(await service.authenticate(created.id, third.client_secret, null)).not.toBeNull();
    });

    it('gives a revoked client no new secret', async () => {
      const { service } = setup();
      const created = await service.create(operator, {
        name: 'HR',
        enterprise_id: ENTERPRISE,
        scopes: ['orders:write'],
      });
      await service.revoke(operator, created.id);
      await expectApiError(service.rotateSecret(operator, created.id, {}), 409, 'client_revoked');
    });
  });

  describe('revoke', () => {
    it('stops every secret and audits once, however often it is called', async () => {
      const { service, clients, audit } = setup();
      const created = await service.create(operator, {
        name: 'HR',
        enterprise_id: ENTERPRISE,
        scopes: ['orders:write'],
      });
      expect(await service.revoke(operator, created.id)).toMatchObject({ status: 'revoked' });
      expect(await service.revoke(operator, created.id)).toMatchObject({ status: 'revoked' });
      expect(clients.secrets.every((secret) => secret.expiresAt !== null)).toBe(true);
      expect(audit.actions()).toEqual(['api_client.created', 'api_client.revoked']);
      expect(await service.authenticate(created.id, created.client_secret, null)).toBeNull();
    });

    it('answers 404 for what is not a client id, without a look-up', async () => {
      const { service, clients } = setup();
      await expectApiError(service.revoke(operator, 'not-a-client'), 404, 'resource_not_found');
      expect(clients.reads).toBe(0);
    });
  });

  describe('actorFor', () => {
    it('grants no more than the client holds, caches the look-up, and forgets it after a revocation', async () => {
      const { service, clients } = setup();
      const created = await service.create(operator, {
        name: 'HR',
        enterprise_id: ENTERPRISE,
        scopes: ['orders:write'],
      });
      const actor = await service.actorFor(created.id, ['orders:write', 'orders:approve'], null);
      expect([...actor!.scopes]).toEqual(['orders:write']);
      const reads = clients.reads;
      await service.actorFor(created.id, ['orders:write'], null);
      expect(clients.reads).toBe(reads);
      await service.revoke(operator, created.id);
      expect(await service.actorFor(created.id, ['orders:write'], null)).toBeNull();
    });

    it('refuses a token whose secret no longer works', async () => {
      const { service, clients } = setup();
      const created = await service.create(operator, {
        name: 'HR',
        enterprise_id: ENTERPRISE,
        scopes: ['orders:write'],
      });
      const secretId = clients.secrets[0].id;
      await service.rotateSecret(operator, created.id, { previous_secret_expires_in: 0 });
      expect(await service.actorFor(created.id, ['orders:write'], null, secretId)).toBeNull();
    });
  });

  describe('ensureBootstrapClient', () => {
    const id = 'cli_bootstrap';

    it('creates the operator client under the boot lock, and a second boot changes nothing', async () => {
      const { service, clients, audit } = setup();
      await service.ensureBootstrapClient(clientContext('cli_boot', null, []), id, 'the-secret-of-the-operator');
      await service.ensureBootstrapClient(clientContext('cli_boot', null, []), id, 'the-secret-of-the-operator');
      expect(clients.bootstrapLocked).toBe(true);
      expect(clients.clients.get(id)).toMatchObject({ status: 'active', scopes: ['admin'], enterpriseId: null });
      expect(clients.secrets).toHaveLength(1);
      expect(audit.actions()).toEqual(['api_client.bootstrap_created']);
    });

    it('does not bring a revoked bootstrap client back unless told to', async () => {
      const { service } = setup();
      await service.ensureBootstrapClient(operator, id, 'the-secret-of-the-operator');
      await service.revoke(operator, id);
      await expect(service.ensureBootstrapClient(operator, id, 'the-secret-of-the-operator')).rejects.toThrow(
        /was revoked/,
      );
      const reactivating = setup({ ADMIN_CLIENT_REACTIVATE: true });
      await reactivating.service.ensureBootstrapClient(operator, id, 'the-secret-of-the-operator');
      await reactivating.service.revoke(operator, id);
      await reactivating.service.ensureBootstrapClient(operator, id, 'the-secret-of-the-operator');
      expect(reactivating.clients.clients.get(id)?.status).toBe('active');
      expect(reactivating.audit.actions()).toContain('api_client.bootstrap_reactivated');
    });
  });
});
