import { DataSource } from 'typeorm';
import { runMigrations } from '../../src/database/migrations';
import { appDataSourceOptions } from '../../src/entities';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database';

/**
 * Cards minted before they carried their batch's enterprise, card type and product: the migration copies them from
 * each card's batch (a replacement card included: it keeps its old card's batch), and a card whose batch cannot be
 * found stops it, naming the card; the columns are NOT NULL once it ran.
 */
describe('migration of cards to carry their batch facts', () => {
  const MIGRATION = 'CardBatchFacts1796543189576';
  let database: ScratchDatabase;

  beforeAll(async () => {
    database = await createScratchDatabase('card_batch_facts');
    await runMigrations(database.url);
  });
  afterAll(async () => {
    // The cards were made by hand, without the ledger's issuance entries: gone before the drop checks the ledger.
    if (database) await query("DELETE FROM cards WHERE order_id = 'ord_migration'");
    await database?.drop();
  });

  const withDataSource = async <T>(work: (dataSource: DataSource) => Promise<T>): Promise<T> => {
    const dataSource = await new DataSource(appDataSourceOptions(database.url, 2)).initialize();
    try {
      return await work(dataSource);
    } finally {
      await dataSource.destroy();
    }
  };
  const query = <T>(sql: string, parameters: unknown[] = []) =>
    withDataSource((dataSource) => dataSource.query<T[]>(sql, parameters));

  /** Reverts migrations, newest first, until this one is undone: the schema as it was before it. */
  const revert = () =>
    withDataSource(async (dataSource) => {
      for (;;) {
        const applied = await dataSource.query<unknown[]>('SELECT 1 FROM typeorm_migrations WHERE name = $1', [
          MIGRATION,
        ]);
        if (applied.length === 0) return;
        await dataSource.undoLastMigration({ transaction: 'each' });
      }
    });

  const insertBatch = (id: string, enterpriseId: string, cardType: string, productId: string) =>
    query(
      `INSERT INTO issuance_batches (id, order_id, enterprise_id, line_no, product_id, card_type, face_value, count,
         chunk_size, serial_start, issued_count, status)
       VALUES ($1, 'ord_migration', $2, 1, $3, $4, 10000, 2, 2, 1, 2, 'completed')`,
      [id, enterpriseId, productId, cardType],
    );
  const insertCard = (serial: number, batchId: string, replaces: number | null = null) =>
    query(
      `INSERT INTO cards (serial, order_id, batch_id, face_value, balance, code_hash, replaces)
       VALUES ($1::bigint, 'ord_migration', $2, 10000, 10000, decode(md5($1::text), 'hex'), $3::bigint)`,
      [serial, batchId, replaces],
    );
  const factsOf = async () =>
    Object.fromEntries(
      (
        await query<{ serial: string; enterprise_id: string; card_type: string; product_id: string }>(
          'SELECT serial::text AS serial, enterprise_id, card_type, product_id FROM cards ORDER BY serial',
        )
      ).map(({ serial, ...facts }) => [serial, facts]),
    );

  it('copies each card its batch facts, refuses a card without a batch, and leaves the columns NOT NULL', async () => {
    await revert();
    expect(
      await query("SELECT 1 FROM information_schema.columns WHERE table_name = 'cards' AND column_name = 'card_type'"),
    ).toHaveLength(0);
    await insertBatch('bat_anonymous', 'ent_a', 'anonymous', 'prd_a');
    await insertBatch('bat_registered', 'ent_b', 'registered', 'prd_b');
    await insertCard(101, 'bat_anonymous');
    await insertCard(102, 'bat_registered');
    // The replacement of card 102 (report-loss): the same batch.
    await insertCard(103, 'bat_registered', 102);

    await runMigrations(database.url);
    expect(await factsOf()).toEqual({
      '101': { enterprise_id: 'ent_a', card_type: 'anonymous', product_id: 'prd_a' },
      '102': { enterprise_id: 'ent_b', card_type: 'registered', product_id: 'prd_b' },
      '103': { enterprise_id: 'ent_b', card_type: 'registered', product_id: 'prd_b' },
    });
    const nullable = await query<{ column_name: string; is_nullable: string }>(
      `SELECT column_name, is_nullable FROM information_schema.columns
       WHERE table_name = 'cards' AND column_name IN ('enterprise_id', 'card_type', 'product_id') ORDER BY column_name`,
    );
    expect(nullable).toEqual([
      { column_name: 'card_type', is_nullable: 'NO' },
      { column_name: 'enterprise_id', is_nullable: 'NO' },
      { column_name: 'product_id', is_nullable: 'NO' },
    ]);

    // A card whose batch is gone: the migration stops, says which card and what to do, and changes nothing.
    await revert();
    await insertCard(104, 'bat_missing');
    await expect(runMigrations(database.url)).rejects.toThrow(
      /1 card\(s\) have no issuance batch to take their enterprise, card type and product from \(104\)/,
    );
    expect(
      await query("SELECT 1 FROM information_schema.columns WHERE table_name = 'cards' AND column_name = 'card_type'"),
    ).toHaveLength(0);
    await insertBatch('bat_missing', 'ent_c', 'anonymous', 'prd_c');
    await runMigrations(database.url);
    expect((await factsOf())['104']).toEqual({ enterprise_id: 'ent_c', card_type: 'anonymous', product_id: 'prd_c' });
  });
});
