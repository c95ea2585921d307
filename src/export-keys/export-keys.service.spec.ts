import { generateKey } from 'openpgp';
import type { RequestContext } from '../common/context/request-context';
import type { ListQueryDto, Page } from '../common/pagination/pagination';
import { newId } from '../common/ids';
import { readRecipientKey } from './recipient-key';
import { clientContext, expectApiError, FakeAudit, FakeTransactions, operatorContext } from '../../test/support/unit';
import type { ExportKey } from './export-key.entity';
import type { ExportKeyFilter, ExportKeyLock, ExportKeysRepository } from './export-keys.repository';
import { ExportKeysService, MAX_EXPORT_KEYS } from './export-keys.service';

const ENTERPRISE = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';
const OTHER = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XZZ';

class FakeKeys {
  readonly keys = new Map<string, ExportKey>();
  readonly locks: Array<{ id: string; lock: ExportKeyLock | undefined }> = [];
  registrationLocks: string[] = [];

  async lockRegistrations(ctx: RequestContext, enterpriseId: string): Promise<void> {
    expect(ctx.transaction).toBeDefined();
    this.registrationLocks.push(enterpriseId);
  }

  async registered(_ctx: RequestContext, enterpriseId: string) {
    return [...this.keys.values()].filter((key) => key.enterpriseId === enterpriseId && key.status !== 'revoked');
  }

  async insert(_ctx: RequestContext, key: ExportKey): Promise<void> {
    this.keys.set(key.id, { ...key });
  }

  async find(_ctx: RequestContext, where: { id: string; enterpriseId?: string }, lock?: ExportKeyLock) {
    this.locks.push({ id: where.id, lock });
    const key = this.keys.get(where.id);
    return key && (!where.enterpriseId || key.enterpriseId === where.enterpriseId) ? { ...key } : null;
  }

  async list(_ctx: RequestContext, filter: ExportKeyFilter, _page: ListQueryDto): Promise<Page<ExportKey>> {
    const data = [...this.keys.values()].filter(
      (key) =>
        (!filter.enterpriseId || key.enterpriseId === filter.enterpriseId) &&
        (!filter.status || key.status === filter.status),
    );
    return { object: 'list', data, has_more: false, next_cursor: null };
  }

  async update(_ctx: RequestContext, id: string, changes: Partial<ExportKey>): Promise<void> {
    this.keys.set(id, { ...this.keys.get(id)!, ...changes });
  }

  seed(fields: Partial<ExportKey> = {}): ExportKey {
    const key: ExportKey = {
      id: newId('exportKey'),
      enterpriseId: ENTERPRISE,
      label: null,
      fingerprint: 'a'.repeat(40),
      encryptionKeyId: 'b'.repeat(16),
      algorithm: 'ecdh',
      userIds: [],
      publicKey: '',
      status: 'pending_confirmation',
      registeredByClientId: 'cli_requester',
      confirmedByClientId: null,
      confirmedAt: null,
      revokedByClientId: null,
      revokedAt: null,
      createdAt: new Date(),
      ...fields,
    };
    this.keys.set(key.id, key);
    return key;
  }
}

function setup() {
  const keys = new FakeKeys();
  const audit = new FakeAudit();
  const service = new ExportKeysService(
    keys as unknown as ExportKeysRepository,
    new FakeTransactions().service,
    audit.service,
  );
  return { keys, audit, service };
}

const requester = clientContext('cli_requester', ENTERPRISE, ['cards:secrets']);
const approver = clientContext('cli_approver', ENTERPRISE, ['orders:approve']);

describe('ExportKeysService', () => {
  let armored: string;
  beforeAll(async () => {
    ({ publicKey: armored } = await generateKey({
      userIDs: [{ name: 'ERP', email: 'erp@example.com' }],
      format: 'armored',
    }));
  });

  describe('register', () => {
    it('stores the key pending confirmation, under the enterprise’s registration lock, and audits it', async () => {
      const { service, keys, audit } = setup();
      const registered = await service.register(requester, { public_key: armored, label: 'ERP' });
      expect(registered).toMatchObject({ status: 'pending_confirmation', label: 'ERP' });
      expect(keys.registrationLocks).toEqual([ENTERPRISE]);
      expect(audit.actions()).toEqual(['export_key.registered']);
    });

    it('refuses the same key twice, and more than MAX_EXPORT_KEYS keys', async () => {
      const { service, keys } = setup();
      const first = await service.register(requester, { public_key: armored });
      await expectApiError(service.register(requester, { public_key: armored }), 409, 'export_key_exists');
      keys.keys.clear();
      for (let i = 0; i < MAX_EXPORT_KEYS; i++) keys.seed({ fingerprint: `${i}`.padStart(40, 'c') });
      await expectApiError(service.register(requester, { public_key: armored }), 422, 'too_many_export_keys');
      // Revoked keys do not count.
      for (const key of keys.keys.values()) key.status = 'revoked';
      expect((await service.register(requester, { public_key: armored })).fingerprint).toBe(first.fingerprint);
    });
  });

  describe('confirm', () => {
    it('needs another client with orders:approve (or the operator) and the registered fingerprint', async () => {
      const { service, keys, audit } = setup();
      const key = keys.seed();
      await expectApiError(
        service.confirm(requester, key.id, { fingerprint: key.fingerprint }),
        403,
        'insufficient_scope',
      );
      const selfApprover = clientContext('cli_requester', ENTERPRISE, ['orders:approve']);
      await expectApiError(
        service.confirm(selfApprover, key.id, { fingerprint: key.fingerprint }),
        403,
        'self_confirmation_not_allowed',
      );
      const stranger = clientContext('cli_stranger', OTHER, ['orders:approve']);
      await expectApiError(
        service.confirm(stranger, key.id, { fingerprint: key.fingerprint }),
        404,
        'resource_not_found',
      );
      await expectApiError(
        service.confirm(approver, key.id, { fingerprint: 'd'.repeat(40) }),
        422,
        'fingerprint_mismatch',
      );
      expect(audit.entries).toHaveLength(0);

      expect(await service.confirm(approver, key.id, { fingerprint: key.fingerprint })).toMatchObject({
        status: 'confirmed',
      });
      expect(keys.keys.get(key.id)).toMatchObject({ status: 'confirmed', confirmedByClientId: 'cli_approver' });
      expect(keys.locks.at(-1)).toEqual({ id: key.id, lock: 'write' });
      expect(audit.actions()).toEqual(['export_key.confirmed']);
      await expectApiError(service.confirm(approver, key.id, { fingerprint: key.fingerprint }), 409, 'invalid_state');
    });
  });

  describe('revoke', () => {
    it('is open to any reader of the keys, audited once', async () => {
      const { service, keys, audit } = setup();
      const key = keys.seed({ status: 'confirmed' });
      await service.revoke(requester, key.id);
      await service.revoke(operatorContext(), key.id);
      expect(keys.keys.get(key.id)).toMatchObject({ status: 'revoked', revokedByClientId: 'cli_requester' });
      expect(audit.actions()).toEqual(['export_key.revoked']);
      const noScope = clientContext('cli_other', ENTERPRISE, ['orders:write']);
      await expectApiError(service.revoke(noScope, key.id), 403, 'insufficient_scope');
    });
  });

  describe('usableKey', () => {
    it('answers the confirmed key of the enterprise, read-locked, and 422 otherwise', async () => {
      const { service, keys } = setup();
      const pending = keys.seed();
      const confirmed = keys.seed({ status: 'confirmed' });
      const revoked = keys.seed({ status: 'revoked' });
      const ctx = requester;
      await expectApiError(service.usableKey(ctx, ENTERPRISE, 'nonsense'), 422, 'export_key_not_found');
      await expectApiError(service.usableKey(ctx, OTHER, confirmed.id), 422, 'export_key_not_found');
      await expectApiError(service.usableKey(ctx, ENTERPRISE, pending.id), 422, 'export_key_not_confirmed');
      await expectApiError(service.usableKey(ctx, ENTERPRISE, revoked.id), 422, 'export_key_revoked');
      expect((await service.usableKey(ctx, ENTERPRISE, confirmed.id)).id).toBe(confirmed.id);
      expect(keys.locks.at(-1)).toEqual({ id: confirmed.id, lock: 'read' });
    });
  });

  describe('list', () => {
    it('shows an enterprise client its own keys only, the operator any', async () => {
      const { service, keys } = setup();
      keys.seed();
      keys.seed({ enterpriseId: OTHER });
      expect((await service.list(requester, {})).data).toHaveLength(1);
      expect((await service.list(operatorContext(), {})).data).toHaveLength(2);
      expect((await service.list(operatorContext(), { enterprise_id: OTHER })).data).toHaveLength(1);
      await expectApiError(
        service.list(clientContext('cli_x', ENTERPRISE, ['orders:write']), {}),
        403,
        'insufficient_scope',
      );
    });
  });

  it('reads a generated key as the exports do', async () => {
    expect((await readRecipientKey(armored)).encryption.recipient_fingerprint).toMatch(/^[0-9a-f]{40,64}$/);
  });
});
