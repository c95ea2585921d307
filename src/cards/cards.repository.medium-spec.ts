import { insertCard } from '../../test/support/medium-cards';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { CardsRepository, cardDebitSql } from './cards.repository';

describe('CardsRepository (medium)', () => {
  let db: MediumDatabase;
  let cards: CardsRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    cards = new CardsRepository(db.connection);
  });
  afterAll(() => db.close());

  it('reads a card with its batch facts, locked or not', () =>
    db.rolledBack(async (ctx) => {
      const { serial, enterpriseId } = await insertCard(db.connection, ctx);
      const row = await cards.bySerial(ctx, serial, true);
      expect(row).toMatchObject({ serial, enterpriseId, cardType: 'anonymous', balance: 10_000, status: 'active' });
      expect(await cards.lockHolderCards(ctx, 'cli_medium', 'holder')).toEqual([row]);
    }));

  it('changes a status only as the state machine allows, and only from the status the caller saw', () =>
    db.rolledBack(async (ctx) => {
      const { serial } = await insertCard(db.connection, ctx);
      await cards.changeStatus(ctx, serial, { from: 'active', to: 'frozen' });
      expect(await cards.bySerial(ctx, serial)).toMatchObject({ status: 'frozen', frozenFrom: 'active' });
      await expect(cards.changeStatus(ctx, serial, { from: 'frozen', to: 'replaced' })).rejects.toThrow(
        'frozen → replaced',
      );
      await expect(cards.changeStatus(ctx, serial, { from: 'active', to: 'lost' })).rejects.toThrow(
        'is not active any more',
      );
      await cards.changeStatus(ctx, serial, { from: 'frozen', to: 'active', resetPinFailures: true });
      expect(await cards.bySerial(ctx, serial)).toMatchObject({ status: 'active', frozenFrom: null });
    }));

  it('binds an unbound card once, and credits a bound one back to active', () =>
    db.rolledBack(async (ctx) => {
      const { serial } = await insertCard(db.connection, ctx, { status: 'issued', holderRef: null, clientId: null });
      expect(await cards.bind(ctx, serial, 'holder-b', 'cli_b')).toBe(10_000);
      expect(await cards.bind(ctx, serial, 'holder-c', 'cli_c')).toBeNull();
      const spent = await insertCard(db.connection, ctx, { status: 'exhausted', balance: 0, clientId: 'cli_b' });
      expect(await cards.credit(ctx, spent.serial, 500, 'cli_other')).toBeNull();
      expect(await cards.credit(ctx, spent.serial, 500, 'cli_b')).toEqual({
        balance: 500,
        status: 'active',
        enterpriseId: spent.enterpriseId,
        holderRef: 'holder',
      });
    }));

  it("debits by serial as a fragment: the card's update and its movement, or nothing when it refuses", () =>
    db.rolledBack(async (ctx) => {
      const { serial, enterpriseId } = await insertCard(db.connection, ctx);
      const debit = {
        serial,
        amount: 10_000,
        holderRef: 'holder',
        clientId: 'cli_medium',
        redemptionId: 'rdm_medium',
        enterpriseId,
        endUserIp: null,
      };
      const run = async (amount: number) => {
        const fragment = cardDebitSql({ ...debit, amount }, 1);
        return db.connection.query<Array<{ balance: string; status: string; moved: string }>>(
          ctx,
          `WITH ${fragment.sql} SELECT balance::text AS balance, status, (SELECT count(*) FROM card_debit_movement)::text AS moved FROM card_debit`,
          fragment.params,
        );
      };
      expect(await run(10_001)).toEqual([]);
      expect(await run(10_000)).toEqual([{ balance: '0', status: 'exhausted', moved: '1' }]);
      expect(await cards.transactionsPage(ctx, serial, '0', 10)).toMatchObject([
        { kind: 'debit', amount: '-10000', balance_after: '0', redemption_id: 'rdm_medium' },
      ]);
    }));
});
