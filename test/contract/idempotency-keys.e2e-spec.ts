import { operations } from './support/openapi';
import { recipeFor, World } from './support/world';

const idempotent = operations().filter((operation) => operation.idempotent);

/**
 * Every operation that takes an Idempotency-Key (read from openapi/openapi.json, so a new one is covered the day it
 * lands) answers its documented success when sent one, and a retry with the same key replays that response.
 */
describe('contract: Idempotency-Key on every operation that takes one', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.start('contract_idempotency');
  }, 180_000);
  afterAll(async () => {
    await world?.close();
  });

  it('finds the operations in the document', () => {
    expect(idempotent.length).toBeGreaterThan(10);
  });

  it.each(idempotent.map((operation) => [operation.id, operation] as const))(
    '%s: documented success with a key, the same response on a retry',
    async (_id, operation) => {
      const call = await recipeFor(operation)(world);
      const key = `contract-${operation.id}-${Date.now()}`;
      const first = await world.send(operation, call, { 'idempotency-key': key });
      expect({ status: first.status, body: first.body as unknown }).toEqual({
        status: operation.success,
        body: expect.anything(),
      });
      const retry = await world.send(operation, call, { 'idempotency-key': key });
      expect(retry.status).toBe(operation.success);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(retry.body).toEqual(first.body);
    },
  );

  // The three that mint a replacement card: with a key the change used to roll back behind a 500, leaving a lost
  // card spendable. The change must be saved.
  it.each([
    ['reportCardLost', 'lost'],
    ['adminReportCardLost', 'lost'],
    ['replaceExpiredCard', 'replaced'],
  ])('%s with a key saves the change: the old card is %s and its replacement exists', async (id, status) => {
    const operation = idempotent.find((candidate) => candidate.id === id)!;
    const call = await recipeFor(operation)(world);
    const serial = call.params!.serial;
    const response = await world.send(operation, call, { 'idempotency-key': `saved-${id}-${Date.now()}` });
    expect(response.status).toBe(200);
    const [card] = await world.app.dataSource.query<Array<{ status: string; replaced_by: string | null }>>(
      'SELECT status, replaced_by::text AS replaced_by FROM cards WHERE serial = $1',
      [serial],
    );
    expect(card).toEqual({
      status,
      replaced_by: (response.body as { replacement: { serial: string } }).replacement.serial,
    });
  });
});
