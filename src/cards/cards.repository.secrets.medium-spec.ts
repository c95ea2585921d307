import { newId } from '../common/ids';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { CardsRepository } from './cards.repository';

describe('CardsRepository (medium)', () => {
  let db: MediumDatabase;
  let repository: CardsRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new CardsRepository(db.connection);
  });
  afterAll(() => db.close());

  async function insertCards(
    ctx: Parameters<Parameters<MediumDatabase['rolledBack']>[0]>[0],
    orderId: string,
    batchId: string,
    serials: number[],
  ) {
    for (const serial of serials) {
      await db.connection.query(
        ctx,
        `INSERT INTO cards (serial, order_id, batch_id, enterprise_id, card_type, product_id, face_value, balance,
           code_hash, secret_ciphertext, expires_at)
         VALUES ($1::bigint, $2, $3, 'ent_medium', 'anonymous', 'prd_medium', 10000, 10000, decode(md5($1::text), 'hex'),
           $4, '2029-11-28T15:59:59Z')`,
        [serial, orderId, batchId, `v1.k1.envelope-${serial}`],
      );
    }
  }

  it('clears the ciphertexts of the batches named, a chunk of serials at a time', async () => {
    await db.rolledBack(async (ctx) => {
      const orderId = newId('order');
      const base = 9_000_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
      await insertCards(ctx, orderId, 'bat_anonymous', [base + 1, base + 2, base + 3]);
      await insertCards(ctx, orderId, 'bat_registered', [base + 4]);
      const first = await repository.purgeSecretsAfter(ctx, orderId, ['bat_anonymous'], '0', 2);
      expect(first).toEqual({ last: String(base + 2), purged: 2 });
      const second = await repository.purgeSecretsAfter(ctx, orderId, ['bat_anonymous'], first.last!, 2);
      expect(second).toEqual({ last: String(base + 4), purged: 1 });
      expect(await repository.purgeSecretsAfter(ctx, orderId, ['bat_anonymous'], second.last!, 2)).toEqual({
        last: null,
        purged: 0,
      });
      const left = await db.connection.query<Array<{ serial: string }>>(
        ctx,
        'SELECT serial::text AS serial FROM cards WHERE order_id = $1 AND secret_ciphertext IS NOT NULL',
        [orderId],
      );
      expect(left).toEqual([{ serial: String(base + 4) }]);
    });
  });

  it('counts the cards’ envelopes per key id, and walks only the cards table', async () => {
    await db.rolledBack(async (ctx) => {
      const column = {
        table: 'cards',
        key: [{ name: 'serial', type: 'bigint' as const }],
        envelopeOf: (alias: string) => `${alias}.secret_ciphertext`,
        keyIdOf: (alias: string) => `split_part(${alias}.secret_ciphertext, '.', 2)`,
        notUnder: (alias: string) => `NOT starts_with(${alias}.secret_ciphertext, $1)`,
        store: (fresh: string) => `secret_ciphertext = ${fresh}`,
      };
      const orderId = newId('order');
      const serial = 9_500_000_000 + Math.floor(Math.random() * 1_000_000);
      await insertCards(ctx, orderId, 'bat_x', [serial]);
      const census = await repository.sealedColumns.census(ctx, column);
      expect(census.find((row) => row.key_id === 'k1')).toBeDefined();
      const page = await repository.sealedColumns.page(ctx, column, 'v1.k2.', 1, [String(serial - 1)]);
      expect(page[0]).toMatchObject({ k0: String(serial), stale: `v1.k1.envelope-${serial}`, key_id: 'k1' });
      expect(await repository.sealedColumns.reseal(ctx, column, [[String(serial)]], ['stale'], ['v1.k2.x'])).toEqual(
        [],
      );
      expect(
        await repository.sealedColumns.reseal(
          ctx,
          column,
          [[String(serial)]],
          [`v1.k1.envelope-${serial}`],
          ['v1.k2.x'],
        ),
      ).toEqual([{ k0: String(serial) }]);
      await expect(repository.sealedColumns.census(ctx, { ...column, table: 'orders' })).rejects.toThrow(/not a table/);
    });
  });

  it('streams an order’s cards as COPY text in its own read-only transaction', async () => {
    const chunks: Buffer[] = [];
    await repository.streamOrderSecrets(newId('order'), async (copy) => {
      for await (const chunk of copy) chunks.push(chunk as Buffer);
    });
    expect(Buffer.concat(chunks).toString()).toBe('');
  });
});
