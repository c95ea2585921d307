import type { CardsRepository } from '../cards/cards.repository';
import type { IdempotencyRepository } from '../idempotency/idempotency.repository';
import type { OrdersRepository } from '../orders/orders.repository';
import type { WebhooksRepository } from '../webhooks/webhooks.repository';
import type { DistributionRepository } from '../distribution/distribution.repository';
import type { RequestContext } from '../common/context/request-context';
import type { DataCipher } from '../common/crypto/data-cipher.service';
import { newId } from '../common/ids';
import type { SealedColumnQueries, SealedColumnSql } from '../database/sealed-column-sql';
import type { CardSecrets } from '../cards/card-secrets';
import type { QueueService } from '../queue/queue.service';
import { expectApiError, FakeAudit, FakeTransactions, operatorContext } from '../../test/support/unit';
import type { DataKeysRepository } from './data-keys.repository';
import { DataKeysService } from './data-keys.service';
import { DEFAULT_REENCRYPTION_BATCH } from './dto/reencryption.dto';
import type { ReencryptionRun } from './reencryption-run.entity';
import type { RedemptionRepository } from '../redemption/redemption.repository';
import { SealedColumnOwners } from './sealed-column-owners';
import type { SealedColumn, SealedColumns } from './sealed-columns';

/** A census per table.column, as the repositories would count it. */
type Censuses = Record<string, Array<{ key_id: string | null; rows: string }>>;

/** An owner repository's walk statements: counts only its own tables' columns. */
function sealedRows(censuses: Censuses, tables: string[]): { sealedColumns: SealedColumnQueries } {
  const sealedColumns = {
    tables,
    census: async (_ctx: RequestContext, column: SealedColumnSql & { name?: string }) => {
      expect(tables).toContain(column.table);
      return censuses[column.name!] ?? [];
    },
  } as unknown as SealedColumnQueries;
  return { sealedColumns };
}

const column = (name: string, table: string, keys: 'data' | 'code_pepper') => ({ name, table, keys }) as SealedColumn;

class FakeRuns {
  readonly runs = new Map<string, ReencryptionRun>();
  startLocks = 0;
  async lockStart(ctx: RequestContext) {
    expect(ctx.transaction).toBeDefined();
    this.startLocks++;
  }

  async unfinished() {
    return [...this.runs.values()].find((run) => run.status === 'queued' || run.status === 'running') ?? null;
  }

  async insert(_ctx: RequestContext, run: Omit<ReencryptionRun, 'createdAt' | 'updatedAt'>) {
    const stored = { ...run, createdAt: new Date(), updatedAt: new Date() };
    this.runs.set(run.id, stored);
    return { ...stored };
  }

  async find(_ctx: RequestContext, id: string) {
    return this.runs.get(id) ?? null;
  }
}

function setup(censuses: Censuses = {}) {
  const runs = new FakeRuns();
  const owners = new SealedColumnOwners(
    sealedRows(censuses, ['cards']) as CardsRepository,
    sealedRows(censuses, ['orders']) as OrdersRepository,
    sealedRows(censuses, ['idempotency_keys']) as IdempotencyRepository,
    sealedRows(censuses, ['webhook_endpoints']) as WebhooksRepository,
    sealedRows(censuses, ['distribution_recipients', 'distribution_file_rows']) as DistributionRepository,
    sealedRows(censuses, ['payment_code_keys']) as RedemptionRepository,
  );
  const enqueued: string[] = [];
  const jobs = new Map<string, { isFailed: () => Promise<boolean>; retry: jest.Mock }>();
  const queues = {
    add: async (_name: string, _data: unknown, options: { jobId: string }) => {
      enqueued.push(options.jobId);
    },
    queue: () => ({ getJob: async (id: string) => jobs.get(id) }),
  } as unknown as QueueService;
  const cipher = { activeKeyId: 'k2', keyIds: ['k2', 'k1'] } as DataCipher;
  const columns = {
    all: [
      column('cards.secret_ciphertext', 'cards', 'data'),
      column('orders.purchaser_ciphertext', 'orders', 'data'),
      column('cards.code_hash', 'cards', 'code_pepper'),
    ],
  } as unknown as SealedColumns;
  const secrets = { blindIndexKeyId: 'p2.b2', currentPepperId: 'p2', pepperIds: ['p2', 'p0'] } as CardSecrets;
  const audit = new FakeAudit();
  const service = new DataKeysService(
    runs as unknown as DataKeysRepository,
    owners,
    new FakeTransactions().service,
    audit.service,
    queues,
    cipher,
    columns,
    secrets,
  );
  return { service, runs, enqueued, jobs, audit };
}

describe('DataKeysService', () => {
  const operator = operatorContext();

  describe('start', () => {
    it('queues one run toward the active key and pepper, after the commit, audited', async () => {
      const { service, runs, enqueued, audit } = setup();
      const run = await service.start(operator, {});
      expect(runs.startLocks).toBe(1);
      expect(runs.runs.get(run.id)).toMatchObject({
        status: 'queued',
        targetKeyId: 'k2',
        targetCodeKeyId: 'p2.b2',
        batchSize: DEFAULT_REENCRYPTION_BATCH,
        requestedByClientId: 'cli_operator',
      });
      expect(Object.keys(runs.runs.get(run.id)!.progress)).toEqual([
        'cards.secret_ciphertext',
        'orders.purchaser_ciphertext',
        'cards.code_hash',
      ]);
      expect(enqueued).toEqual([run.id]);
      expect(audit.actions()).toEqual(['data_keys.reencryption_requested']);
    });

    it('refuses a second run while one is unfinished', async () => {
      const { service, enqueued } = setup();
      const first = await service.start(operator, { batch_size: 500 });
      await expectApiError(service.start(operator, {}), 409, 'reencryption_in_progress');
      expect(enqueued).toEqual([first.id]);
    });
  });

  describe('get', () => {
    it('answers 404 for an unknown run, and enqueues a run that has not moved for a minute again', async () => {
      const { service, runs, enqueued } = setup();
      await expectApiError(service.get(operator, 'nonsense'), 404, 'resource_not_found');
      await expectApiError(service.get(operator, newId('reencryption')), 404, 'resource_not_found');
      const run = await service.start(operator, {});
      enqueued.length = 0;
      await service.get(operator, run.id);
      expect(enqueued).toEqual([]);
      runs.runs.get(run.id)!.updatedAt = new Date(Date.now() - 120_000);
      await service.get(operator, run.id);
      expect(enqueued).toEqual([run.id]);
    });
  });

  describe('usage', () => {
    it('counts envelopes per key over the columns (each through the owner of its table) and tells what may go', async () => {
      // v1 (AES-GCM) envelopes are labelled `v1:<key id>` and count for their key; a pepper's cards under both
      // index schemes (`p2.b2`, and the earlier HMAC `p2`) count for the pepper.
      const { service } = setup({
        'cards.secret_ciphertext': [
          { key_id: 'k2', rows: '4' },
          { key_id: 'v1:k2', rows: '1' },
          { key_id: 'k0', rows: '2' },
          { key_id: null, rows: '3' },
        ],
        'orders.purchaser_ciphertext': [
          { key_id: 'k2', rows: '3' },
          { key_id: 'v1:k1', rows: '1' },
        ],
        'cards.code_hash': [
          { key_id: 'p2.b2', rows: '5' },
          { key_id: 'p2', rows: '2' },
          { key_id: 'legacy', rows: '3' },
        ],
      });
      const usage = await service.usage(operator);
      expect(usage.active_key_id).toBe('k2');
      expect(
        usage.keys.map(({ key_id, active, configured, rows, removable }) => ({
          key_id,
          active,
          configured,
          rows,
          removable,
        })),
      ).toEqual([
        { key_id: 'k2', active: true, configured: true, rows: 8, removable: false },
        { key_id: 'k1', active: false, configured: true, rows: 1, removable: false },
        { key_id: 'k0', active: false, configured: false, rows: 2, removable: false },
      ]);
      // p0 still finds the legacy cards: it stays until they are re-indexed.
      expect(usage.code_peppers.map(({ key_id, cards, removable }) => ({ key_id, cards, removable }))).toEqual([
        { key_id: 'p2', cards: 7, removable: false },
        { key_id: 'p0', cards: 0, removable: false },
        { key_id: 'legacy', cards: 3, removable: false },
      ]);
    });
  });
});
