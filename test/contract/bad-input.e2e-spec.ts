import { badCases } from './support/mutations';
import { operations } from './support/openapi';
import { problemFault } from './support/problems';
import { recipeFor, recipes, World } from './support/world';

const all = operations();

/**
 * For every operation in openapi/openapi.json: malformed bodies, wrong types, unknown fields, huge values and bad
 * path or query parameters, each derived from a real request, never answer 5xx, and every error is
 * application/problem+json with its status, a code and the request id.
 */
describe('contract: bad input never answers 5xx, and every error is a problem', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.start('contract_bad_input');
  }, 180_000);
  afterAll(async () => {
    await world?.close();
  });

  it('has a recipe for no operation the document no longer has', () => {
    const ids = new Set(all.map((operation) => operation.id));
    expect(Object.keys(recipes).filter((id) => !ids.has(id))).toEqual([]);
  });

  it.each(all.map((operation) => [operation.id, operation] as const))('%s', async (_id, operation) => {
    const call = await recipeFor(operation)(world);
    const faults: string[] = [];
    for (const bad of badCases(operation, call)) {
      const response = await world.send(operation, bad.call, {}, bad.raw, bad.rawPath);
      const fault = problemFault(response, operation);
      if (fault) faults.push(`${bad.name}: ${fault}`);
    }
    expect(faults).toEqual([]);
  });

  const withBody = all.filter((operation) => operation.bodyTypes.length > 0);
  it.each(withBody.map((operation) => [operation.id, operation] as const))(
    '%s refuses a text/plain body with 415 unsupported_media_type',
    async (_id, operation) => {
      const call = await recipeFor(operation)(world);
      const response = await world.send(
        operation,
        call,
        {},
        { type: 'text/plain', payload: JSON.stringify(call.body) },
      );
      expect({ status: response.status, code: (response.body as { code?: string }).code }).toEqual({
        status: 415,
        code: 'unsupported_media_type',
      });
    },
  );
});
