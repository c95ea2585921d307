import { newId } from '../common/ids';
import { openMediumDatabase, type MediumDatabase } from '../../test/support/medium';
import { EnterprisesRepository } from './enterprises.repository';

describe('EnterprisesRepository (medium)', () => {
  let db: MediumDatabase;
  let repository: EnterprisesRepository;
  beforeAll(async () => {
    db = await openMediumDatabase();
    repository = new EnterprisesRepository(db.connection);
  });
  afterAll(() => db.close());

  it('reads an enterprise’s status (statusOf, for authentication)', async () => {
    await db.rolledBack(async (ctx) => {
      const id = newId('enterprise');
      expect(await repository.statusOf(ctx, id)).toBeNull();
      await db.connection.query(
        ctx,
        `INSERT INTO enterprises (id, name, credit_code, invoice_title, registered_address, contact_email, status)
         VALUES ($1, 'Medium', '91310000MA1FL8DM0X', 'Medium', 'Somewhere', 'a@b.example', 'suspended')`,
        [id],
      );
      expect(await repository.statusOf(ctx, id)).toBe('suspended');
    });
  });
});
