import { randomBytes } from 'node:crypto';
import { CardsRepository } from '../cards/cards.repository';
import { CardSecrets } from '../cards/card-secrets';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { AppConfig } from '../config/app-config';
import { IdempotencyRepository } from '../idempotency/idempotency.repository';
import { OrdersRepository } from '../orders/orders.repository';
import { WebhooksRepository } from '../webhooks/webhooks.repository';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { SealedColumnOwners } from './sealed-column-owners';
import { SealedColumns } from './sealed-columns';

describe('SealedColumnOwners (medium)', () => {
  let db: MediumDatabase;
  let repositories: {
    cards: CardsRepository;
    orders: OrdersRepository;
    idempotency: IdempotencyRepository;
    webhooks: WebhooksRepository;
  };
  let owners: SealedColumnOwners;
  const config = Object.assign(new AppConfig(), {
    CODE_PEPPER: randomBytes(32).toString('base64'),
    DATA_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  });
  const cipher = new DataCipher(config);
  const columns = new SealedColumns(cipher, new CardSecrets(config, cipher));
  const column = (name: string) => columns.all.find((c) => c.name === name)!;

  beforeAll(async () => {
    db = await openMediumDatabase();
    repositories = {
      cards: new CardsRepository(db.connection),
      orders: new OrdersRepository(db.connection),
      idempotency: new IdempotencyRepository(db.connection),
      webhooks: new WebhooksRepository(db.connection),
    };
    owners = new SealedColumnOwners(
      repositories.cards,
      repositories.orders,
      repositories.idempotency,
      repositories.webhooks,
    );
  });
  afterAll(() => db.close());

  it("hands every encrypted column to its table's owner, and each owner refuses the others' tables", async () => {
    const ownerOf = {
      cards: repositories.cards,
      orders: repositories.orders,
      idempotency_keys: repositories.idempotency,
      webhook_endpoints: repositories.webhooks,
    } as const;
    await db.rolledBack(async (ctx) => {
      for (const sealed of columns.all) {
        const owner = ownerOf[sealed.table as keyof typeof ownerOf];
        expect(owners.of(sealed)).toBe(owner.sealedColumns);
        expect(await owners.of(sealed).census(ctx, sealed)).toEqual(expect.any(Array));
        for (const other of Object.values(ownerOf).filter((repository) => repository !== owner)) {
          await expect(other.sealedColumns.census(ctx, sealed)).rejects.toThrow(/not a table this repository owns/);
        }
      }
    });
    expect(() => owners.of({ table: 'reencryption_runs' })).toThrow(/no repository owns reencryption_runs/);
  });

  it('counts, pages and re-seals a column through its owner (idempotency_keys.response_body)', async () => {
    const sealed = column('idempotency_keys.response_body');
    const clientId = `cli_owners${randomBytes(6).toString('hex')}`;
    const [stale, fresh] = [`v1.kold${clientId}.sealed`, `v1.knew${clientId}.sealed`];
    await db.rolledBack(async (ctx) => {
      await db.connection.query(
        ctx,
        `INSERT INTO idempotency_keys (client_id, key, fingerprint, response_status, response_body)
         VALUES ($1, 'key', 'fp', 201, jsonb_build_object('sealed', $2::text))`,
        [clientId, stale],
      );
      const queries = owners.of(sealed);
      const census = await queries.census(ctx, sealed);
      expect(census).toContainEqual({ key_id: `kold${clientId}`, rows: '1' });
      // The row right after (clientId, ''): ours, stale for the new key.
      const [row] = await queries.page(ctx, sealed, sealed.stalenessParam(`knew${clientId}`), 1, [clientId, '']);
      expect(row).toMatchObject({ k0: clientId, k1: 'key', stale, key_id: `kold${clientId}` });
      expect(await queries.reseal(ctx, sealed, [[clientId, 'key']], [stale], [fresh])).toEqual([
        { k0: clientId, k1: 'key' },
      ]);
      // Stored only where the read envelope is still in place: a second reseal of the same read changes nothing.
      expect(await queries.reseal(ctx, sealed, [[clientId, 'key']], [stale], [fresh])).toEqual([]);
      expect(await queries.census(ctx, sealed)).toContainEqual({ key_id: `knew${clientId}`, rows: '1' });
    });
  });

  it('refuses two owners of one table', () => {
    expect(
      () =>
        new SealedColumnOwners(
          repositories.cards,
          repositories.orders,
          repositories.idempotency,
          repositories.idempotency as unknown as WebhooksRepository,
        ),
    ).toThrow(/two owners claim idempotency_keys/);
  });
});
