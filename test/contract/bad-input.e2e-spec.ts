import { badCases } from './support/mutations';
import { operations } from './support/openapi';
import { problemFault } from './support/problems';
import { recipeFor, World } from './support/world';

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
});
