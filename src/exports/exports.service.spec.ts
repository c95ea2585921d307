import { OrderLifecycleHooks } from '../orders/order-lifecycle-hooks';
import { createHash } from 'node:crypto';
import { generateKey } from 'openpgp';
import type { RequestContext } from '../common/context/request-context';
import { newId } from '../common/ids';
import type { AppConfig } from '../config/app-config';
import type { ExportKey } from '../export-keys/export-key.entity';
import type { ExportKeysService } from '../export-keys/export-keys.service';
import type { CardExport, ExportStatus } from '../issuance/card-export.entity';
import type { OrderStatus } from '../orders/order-state';
import type { OrdersRepository } from '../orders/orders.repository';
import type { QueueService } from '../queue/queue.service';
import { clientContext, expectApiError, FakeAudit, FakeTransactions } from '../../test/support/unit';
import type { ExportStorage } from './export-storage';
import type { ExportChanges, ExportsRepository } from './exports.repository';
import { ExportsService } from './exports.service';

const ENTERPRISE = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';

class FakeExports {
  readonly rows = new Map<string, CardExport>();
  locked: string[] = [];

  async find(ctx: RequestContext, where: { id: string; enterpriseId?: string }, { lock = false } = {}) {
    if (lock) {
      expect(ctx.transaction).toBeDefined();
      this.locked.push(where.id);
    }
    const row = this.rows.get(where.id);
    return row && (!where.enterpriseId || row.enterpriseId === where.enterpriseId) ? { ...row } : null;
  }

  async insert(_ctx: RequestContext, record: CardExport) {
    this.rows.set(record.id, { ...record });
  }

  async update(_ctx: RequestContext, id: string, changes: ExportChanges, onlyIf?: ExportStatus[]) {
    const row = this.rows.get(id);
    if (!row || (onlyIf && !onlyIf.includes(row.status))) return false;
    this.rows.set(id, { ...row, ...(changes as Partial<CardExport>) });
    return true;
  }

  async purgingExportExists(_ctx: RequestContext, orderId: string) {
    return [...this.rows.values()].some(
      (row) => row.orderId === orderId && row.purgeAfterExport && ['pending', 'running', 'ready'].includes(row.status),
    );
  }

  async exportInProgress(_ctx: RequestContext, orderId: string) {
    return (
      [...this.rows.values()].find((row) => row.orderId === orderId && ['pending', 'running'].includes(row.status))
        ?.id ?? null
    );
  }

  async issueLink(_ctx: RequestContext, id: string, tokenHash: string, expiresAt: Date) {
    const row = this.rows.get(id)!;
    if (row.status !== 'ready' || row.downloadedAt || !row.storagePath) return false;
    this.rows.set(id, { ...row, downloadTokenHash: tokenHash, downloadExpiresAt: expiresAt });
    return true;
  }

  async finishDownload() {
    return true;
  }

  seed(fields: Partial<CardExport>): CardExport {
    const row: CardExport = {
      id: newId('export'),
      orderId: newId('order'),
      enterpriseId: ENTERPRISE,
      requestedByClientId: 'cli_requester',
      status: 'pending',
      exportKeyId: null,
      encryption: {},
      rowCount: null,
      plaintextSha256: null,
      sizeBytes: null,
      storagePath: null,
      downloadTokenHash: null,
      downloadExpiresAt: null,
      downloadedAt: null,
      purgeAfterExport: false,
      purgeConfirmedByClientId: null,
      purgeConfirmedAt: null,
      failureReason: null,
      createdAt: new Date(),
      completedAt: null,
      ...fields,
    };
    this.rows.set(row.id, row);
    return row;
  }
}

function setup(publicKey: string) {
  const exports = new FakeExports();
  const orders = new Map<string, OrderStatus>();
  const orderLocks = {
    lock: async (ctx: RequestContext, id: string, enterpriseId?: string) => {
      expect(ctx.transaction).toBeDefined();
      const status = orders.get(id);
      return status && (!enterpriseId || enterpriseId === ENTERPRISE) ? { status } : null;
    },
  } as unknown as OrdersRepository;
  const key = { id: newId('exportKey'), publicKey, status: 'confirmed' } as ExportKey;
  const exportKeys = { usableKey: jest.fn(async () => key) } as unknown as ExportKeysService;
  const enqueued: string[] = [];
  const queues = {
    add: async (_name: string, _data: unknown, options: { jobId: string }) => {
      enqueued.push(options.jobId);
    },
  } as unknown as QueueService;
  const storage = { sweep: async () => 0, read: async () => null, stat: async () => null } as unknown as ExportStorage;
  const audit = new FakeAudit();
  const service = new ExportsService(
    exports as unknown as ExportsRepository,
    orderLocks,
    new FakeTransactions().service,
    audit.service,
    queues,
    storage,
    { publicUrl: 'https://api.example/' } as AppConfig,
    exportKeys,
    new OrderLifecycleHooks(),
  );
  return { service, exports, orders, key, enqueued, audit };
}

const requester = clientContext('cli_requester', ENTERPRISE, ['cards:secrets']);
const approver = clientContext('cli_approver', ENTERPRISE, ['orders:approve']);

describe('ExportsService', () => {
  let publicKey: string;
  beforeAll(async () => {
    ({ publicKey } = await generateKey({ userIDs: [{ name: 'ERP' }], format: 'armored' }));
  });

  describe('create', () => {
    it('needs a registered key, an order of the caller that is issued', async () => {
      const { service, orders } = setup(publicKey);
      const orderId = newId('order');
      await expectApiError(service.create(requester, orderId, {}), 422, 'export_key_required');
      const dto = { export_key_id: newId('exportKey') };
      await expectApiError(service.create(requester, orderId, dto), 404, 'resource_not_found');
      orders.set(orderId, 'pending_payment');
      await expectApiError(service.create(requester, orderId, dto), 409, 'invalid_state');
    });

    it('queues the build after the commit, audited; a purging export waits for a second party instead', async () => {
      const { service, orders, exports, enqueued, audit, key } = setup(publicKey);
      const orderId = newId('order');
      orders.set(orderId, 'issued');
      const created = await service.create(requester, orderId, { export_key_id: key.id });
      expect(created).toMatchObject({ status: 'pending' });
      expect(enqueued).toEqual([created.id]);
      expect(audit.actions()).toEqual(['card_export.requested']);

      // One build per order at a time.
      await expectApiError(service.create(requester, orderId, { export_key_id: key.id }), 409, 'export_in_progress');
      exports.rows.get(created.id)!.status = 'ready';

      const purging = await service.create(requester, orderId, {
        export_key_id: key.id,
        purge_anonymous_after_export: true,
      });
      expect(purging).toMatchObject({ status: 'awaiting_purge_confirmation' });
      expect(enqueued).toEqual([created.id]);
    });

    it('refuses an order whose codes an export purges', async () => {
      const { service, orders, exports, key } = setup(publicKey);
      const orderId = newId('order');
      orders.set(orderId, 'issued');
      exports.seed({ orderId, purgeAfterExport: true, status: 'ready' });
      await expectApiError(service.create(requester, orderId, { export_key_id: key.id }), 409, 'card_secrets_purged');
    });
  });

  describe('confirmPurge', () => {
    it('is a second party’s, locks the order then the export, and queues the build', async () => {
      const { service, orders, exports, enqueued, audit } = setup(publicKey);
      const orderId = newId('order');
      orders.set(orderId, 'issued');
      const record = exports.seed({ orderId, status: 'awaiting_purge_confirmation', purgeAfterExport: true });
      const selfApprover = clientContext('cli_requester', ENTERPRISE, ['orders:approve']);
      await expectApiError(service.confirmPurge(selfApprover, record.id), 403, 'self_confirmation_not_allowed');
      expect(await service.confirmPurge(approver, record.id)).toMatchObject({ status: 'pending' });
      expect(exports.rows.get(record.id)).toMatchObject({
        status: 'pending',
        purgeConfirmedByClientId: 'cli_approver',
      });
      expect(exports.locked).toContain(record.id);
      expect(enqueued).toEqual([record.id]);
      expect(audit.actions()).toEqual(['card_export.purge_confirmed']);
      await expectApiError(service.confirmPurge(approver, record.id), 409, 'invalid_state');
    });
  });

  describe('get', () => {
    it('issues a fresh one-time link for a ready export, storing only its hash', async () => {
      const { service, exports, audit } = setup(publicKey);
      const record = exports.seed({
        status: 'ready',
        storagePath: 'exports/x.pgp',
        completedAt: new Date(),
        sizeBytes: '10',
      });
      const shown = await service.get(requester, record.id);
      const token = shown.download!.token;
      expect(shown.download!.url).toBe(`https://api.example/v1/exports/${record.id}/download?token=${token}`);
      expect(exports.rows.get(record.id)!.downloadTokenHash).toBe(
        createHash('sha256').update(token, 'latin1').digest('hex'),
      );
      expect(audit.actions()).toEqual(['card_export.link_issued']);
      await expectApiError(
        service.get(clientContext('cli_x', 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XZZ', ['cards:secrets']), record.id),
        404,
        'resource_not_found',
      );
    });
  });

  describe('openDownload', () => {
    it('answers 404 for a token that is not the current one, 410 once used or expired', async () => {
      const { service, exports } = setup(publicKey);
      const token = 'the-token';
      const hash = createHash('sha256').update(token, 'latin1').digest('hex');
      const ready = {
        status: 'ready' as const,
        storagePath: 'exports/x.pgp',
        completedAt: new Date(),
        downloadTokenHash: hash,
      };
      const current = exports.seed({ ...ready, downloadExpiresAt: new Date(Date.now() + 60_000) });
      await expectApiError(service.openDownload(requester, current.id, 'other-token'), 404, 'resource_not_found');
      const used = exports.seed({
        ...ready,
        downloadExpiresAt: new Date(Date.now() + 60_000),
        downloadedAt: new Date(),
      });
      await expectApiError(service.openDownload(requester, used.id, token), 410, 'export_link_used');
      const lapsed = exports.seed({ ...ready, downloadExpiresAt: new Date(Date.now() - 1) });
      await expectApiError(service.openDownload(requester, lapsed.id, token), 410, 'export_link_expired');
    });
  });
});
