import { operations, type Operation } from './support/openapi';
import { expectProblem } from './support/problems';
import { recipeFor, World } from './support/world';

/** Tenant operations that take no id in the path but one in the body. */
const BODY_ID_OPERATIONS: Record<string, string> = {
  voidCards: 'serials',
  createInvoice: 'order_ids',
};

/** Operations under /v1 (not /v1/admin) with an id that belongs to no tenant, each with the reason. */
const NOT_TENANT_SCOPED: Record<string, string> = {
  getCatalogProduct: 'the catalog is one for every tenant',
  reverseDebit: 'redemption ids belong to redemption-channel clients, which serve every tenant',
  bindClaimTicket: 'claim tickets belong to the redemption channel the employee chose, which serves every tenant',
};

const all = operations();
const tenantScoped = (operation: Operation) =>
  !operation.isPublic &&
  !operation.path.startsWith('/v1/admin/') &&
  (operation.pathParams.length > 0 || operation.id in BODY_ID_OPERATIONS) &&
  !(operation.id in NOT_TENANT_SCOPED);

/**
 * For every tenant-scoped operation in openapi/openapi.json: ids of one tenant's objects, sent with another
 * tenant's token, answer 404 (never another tenant's data, nor a hint that the id exists), and the owner's own
 * request then succeeds, so the refusal was about tenancy and changed nothing.
 */
describe('contract: one tenant cannot reach another tenant’s objects', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.start('contract_tenants', 12);
  }, 180_000);
  afterAll(async () => {
    await world?.close();
  });

  it('lists only operations the document still has', () => {
    const ids = new Set(all.map((operation) => operation.id));
    for (const id of [...Object.keys(BODY_ID_OPERATIONS), ...Object.keys(NOT_TENANT_SCOPED)]) {
      expect({ id, known: ids.has(id) }).toEqual({ id, known: true });
    }
  });

  it.each(all.filter(tenantScoped).map((operation) => [operation.id, operation] as const))(
    '%s: 404 with another tenant’s token, then success for the owner',
    async (_id, operation) => {
      const call = await recipeFor(operation)(world);
      if (!call.tenant) throw new Error(`the recipe of ${operation.id} must name the tenant whose ids it uses`);
      const outsider = call.tenant.id === world.b.id ? world.a : world.b;
      const refused = await world.send(operation, { ...call, token: outsider.hr });
      expect({ status: refused.status, body: refused.body as unknown }).toEqual({
        status: 404,
        body: expect.anything(),
      });
      expectProblem(refused, operation);
      const owner = await world.send(operation, call);
      expect({ status: owner.status, body: owner.body as unknown }).toEqual({
        status: operation.success,
        body: expect.anything(),
      });
    },
  );

  it("redeliverEvent: another tenant's endpoint_id in the body answers 404, and nothing is scheduled", async () => {
    const operation = all.find((candidate) => candidate.id === 'redeliverEvent')!;
    const [{ id: ownEvent }] = await world.app.dataSource.query<Array<{ id: string }>>(
      'SELECT id FROM events WHERE enterprise_id = $1 ORDER BY id LIMIT 1',
      [world.b.id],
    );
    const count = async () =>
      (
        await world.app.dataSource.query<Array<{ n: number }>>(
          // B's event to A's endpoint: A's own events keep reaching that endpoint meanwhile.
          'SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2',
          [world.endpoint, ownEvent],
        )
      )[0].n;
    const before = await count();
    const refused = await world.send(operation, {
      token: world.b.hr,
      params: { id: ownEvent },
      body: { endpoint_id: world.endpoint },
    });
    expect(refused.status).toBe(404);
    expectProblem(refused, operation);
    expect(await count()).toBe(before);
  });
});
