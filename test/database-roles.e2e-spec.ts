import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued } from './support/cards';
import { createProduct, placePaidOrder } from './support/fixtures';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';

const APP_ROLE_SQL = readFileSync(join(__dirname, '..', 'docker', 'postgres', 'app-role.sql'), 'utf8');
const APP_PASSWORD = 'fuli-app-test-password';

/**
 * Production's two roles, as docker-compose.yml sets them up: the schema owner migrates (MIGRATION_DATABASE_URL),
 * the app runs as fuli_app (docker/postgres/app-role.sql), which owns nothing: the append-only triggers stay.
 */
describe('database roles: the app runs as a role that does not own the schema', () => {
  let scratch: ScratchDatabase;
  let app: TestApp;
  let appRole: pg.Client;

  beforeAll(async () => {
    scratch = await createScratchDatabase('roles');
    const owner = new pg.Client({ connectionString: scratch.url });
    await owner.connect();
    try {
      await owner.query(APP_ROLE_SQL);
      await owner.query(`ALTER ROLE fuli_app PASSWORD '${APP_PASSWORD}'`);
    } finally {
      await owner.end();
    }
    const appUrl = new URL(scratch.url);
    appUrl.username = 'fuli_app';
    appUrl.password = APP_PASSWORD;
    app = await startTestApp({
      DATABASE_URL: appUrl.toString(),
      MIGRATION_DATABASE_URL: scratch.url,
      ISSUANCE_CHUNK_SIZE: '100',
    });
    appRole = new pg.Client({ connectionString: appUrl.toString() });
    await appRole.connect();
  });
  afterAll(async () => {
    await appRole?.end();
    await app?.close();
    await scratch?.drop();
  });

  it('migrates as the owner, then serves, queues, mints, voids and audits as fuli_app', async () => {
    const [{ user }] = await app.dataSource.query<Array<{ user: string }>>('SELECT current_user AS user');
    expect(user).toBe('fuli_app');
    const [{ owner }] = await appRole
      .query<{ owner: string }>("SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'audit_records'")
      .then((result) => result.rows);
    expect(owner).not.toBe('fuli_app');

    const product = await createProduct(app);
    const placed = await placePaidOrder(
      app,
      `ROLES-${Date.now()}`,
      [{ product_id: product.id, face_value: 10_000, quantity: 3 }],
      ['orders:write', 'orders:read', 'cards:write', 'cards:read'],
    );
    await waitForIssued(app, placed.order.id);
    const [card] = await cardsWithSecrets(app, placed.order.id);
    await app.http
      .post('/v1/cards/void')
      .auth(placed.token, { type: 'bearer' })
      .send({ serials: [card.serial], reason: 'ordered too many' })
      .expect(200);
    const operator = await app.operatorToken();
    const verify = await app.http.get('/v1/admin/audit/verify').auth(operator, { type: 'bearer' }).expect(200);
    expect(verify.body).toMatchObject({ ok: true, first_failure: null });
    expect(verify.body.records_checked).toBeGreaterThanOrEqual(4);
  });

  it.each([
    'ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only',
    'DROP TRIGGER card_transactions_append_only ON card_transactions',
    'ALTER TABLE ledger_lines DISABLE TRIGGER ALL',
    'SET session_replication_role = replica',
    'CREATE TABLE sneaky (id int)',
  ])('fuli_app may not: %s', async (sql) => {
    await expect(appRole.query(sql)).rejects.toMatchObject({ code: '42501' });
  });

  it('fuli_app meets the append-only triggers like everyone else', async () => {
    await expect(appRole.query('DELETE FROM audit_records')).rejects.toMatchObject({ code: '23001' });
    await expect(appRole.query('UPDATE card_transactions SET amount = 0')).rejects.toMatchObject({ code: '23001' });
  });
});
