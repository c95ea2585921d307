import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApp, type TestApp } from './support/app';
import { violationOf, type ObservedResponse } from './support/contract';

const DOCUMENT = JSON.parse(readFileSync(join(__dirname, '..', 'openapi', 'openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
};

/**
 * The contract check every e2e app runs when it closes (test/support/contract.ts): it sees the app's responses and
 * refuses what openapi/openapi.json does not document, so it can fail.
 */
describe('responses checked against openapi/openapi.json', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('records each response with its route, status, media type and body', async () => {
    const token = await app.operatorToken();
    await app.http
      .get('/v1/admin/enterprises/ent_00000000000000000000000000')
      .auth(token, { type: 'bearer' })
      .expect(404);
    const seen = app.contract.observed().find((response) => response.route === '/v1/admin/enterprises/:id');
    expect(seen).toMatchObject({
      method: 'GET',
      status: 404,
      contentType: expect.stringMatching(/^application\/problem\+json/),
    });
    expect(JSON.parse(seen!.body!)).toMatchObject({ code: 'resource_not_found' });
    expect(app.contract.violations()).toEqual([]);
  });

  it('refuses an undocumented status, an unlisted media type, a body off its schema and an undocumented code', () => {
    const problem = JSON.stringify({
      type: 'urn:fuli:problem:resource_not_found',
      title: 'Not Found',
      status: 404,
      detail: 'No enterprise',
      code: 'resource_not_found',
      request_id: 'req_1',
    });
    const base: ObservedResponse = {
      method: 'GET',
      route: '/v1/admin/enterprises/:id',
      status: 404,
      contentType: 'application/problem+json; charset=utf-8',
      body: problem,
    };
    expect(violationOf(DOCUMENT, base)).toBeUndefined();
    expect(violationOf(DOCUMENT, { ...base, status: 418 })).toMatch(/status not documented/);
    expect(violationOf(DOCUMENT, { ...base, contentType: 'text/html' })).toMatch(
      /media type text\/html not documented/,
    );
    expect(violationOf(DOCUMENT, { ...base, body: JSON.stringify({ code: 7 }) })).toMatch(/does not match the schema/);
    // A well-formed problem whose code this operation does not document for a 404.
    const undocumented = problem.replaceAll('resource_not_found', 'po_number_exists');
    expect(violationOf(DOCUMENT, { ...base, body: undocumented })).toMatch(
      /code po_number_exists not documented \(documented: resource_not_found\)/,
    );
    // A 200 that is not an enterprise (its required members missing, `id` not a string).
    const enterprise = { ...base, status: 200, contentType: 'application/json' };
    expect(violationOf(DOCUMENT, { ...enterprise, body: JSON.stringify({ id: 1 }) })).toMatch(/does not match/);
    // A route the document leaves out on purpose (a page) is not checked.
    expect(violationOf(DOCUMENT, { ...base, route: '/claim/:token' })).toBeUndefined();
  });
});
