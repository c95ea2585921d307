import { startTestApp, type TestApp } from '../support/app';
import { fillPath, operations } from './support/openapi';
import { expectProblem } from './support/problems';

/**
 * The operations that need no token, each with the reason. An operation the document lists without a security
 * requirement must be here (a forgotten guard fails this suite), and each one here must still be public.
 */
const PUBLIC_OPERATIONS: Record<string, string> = {
  getJwks: 'the keys that verify access tokens are published for anyone verifying them',
  getLiveness: 'the orchestrator probes it without credentials',
  getReadiness: 'the orchestrator probes it without credentials',
  createToken: 'clients trade their credentials for a token here',
  downloadCardExport: 'the one-time token in the query string is the credential (a link handed to the ERP)',
  receiveTencentSmsReceipts:
    "the SMS provider's callback: SMS_RECEIPT_TOKEN in the path is the credential (Tencent does not sign callbacks)",
};

const all = operations();

describe('contract: public operations', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_REQUESTS: '1000000' }, { worker: false });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('lists every operation without a security requirement on the allow-list, and nothing else', () => {
    const open = all.filter((operation) => operation.isPublic).map((operation) => operation.id);
    expect(open.sort()).toEqual(Object.keys(PUBLIC_OPERATIONS).sort());
  });

  const secured = all.filter((operation) => !operation.isPublic);
  const placeholders = (pathParams: string[]) => Object.fromEntries(pathParams.map((name) => [name, 'x']));

  it.each(secured.map((operation) => [operation.id, operation] as const))(
    '%s refuses a request without a token, or with a forged one, with 401',
    async (_id, operation) => {
      const url = fillPath(operation, placeholders(operation.pathParams));
      const anonymous = await app.http[operation.method](url).send({});
      expect(anonymous.status).toBe(401);
      expectProblem(anonymous);
      const forged = await app.http[operation.method](url).auth('not.a.token', { type: 'bearer' }).send({});
      expect(forged.status).toBe(401);
      expectProblem(forged);
    },
  );
});
