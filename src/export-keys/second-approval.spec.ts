import type { Scope } from '../common/access/scopes';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { assertSecondApprover } from './second-approval';

const ENTERPRISE = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';
const REQUESTER = 'cli_requester';
const notFound = () => ApiError.notFound('export key', 'xpk_x');

function caller(clientId: string, enterpriseId: string | null, scopes: Scope[]): RequestContext {
  return new RequestContext('req_test', { clientId, enterpriseId, scopes: new Set(scopes) });
}

function refusal(ctx: RequestContext): { status: number; code: string } | null {
  try {
    assertSecondApprover(ctx, ENTERPRISE, REQUESTER, notFound);
    return null;
  } catch (error) {
    const { code } = error as ApiError;
    return { status: (error as ApiError).getStatus(), code };
  }
}

describe('assertSecondApprover', () => {
  it('lets the operator and another approving client of the enterprise confirm', () => {
    expect(refusal(caller('cli_operator', null, ['admin']))).toBeNull();
    expect(refusal(caller('cli_finance', ENTERPRISE, ['orders:approve']))).toBeNull();
  });

  it('refuses the requesting client itself, even with orders:approve', () => {
    expect(refusal(caller(REQUESTER, ENTERPRISE, ['cards:secrets', 'orders:approve']))).toEqual({
      status: 403,
      code: 'self_confirmation_not_allowed',
    });
  });

  it('refuses a client without orders:approve, and hides the object from other enterprises', () => {
    expect(refusal(caller('cli_hr', ENTERPRISE, ['cards:secrets']))).toEqual({
      status: 403,
      code: 'insufficient_scope',
    });
    expect(refusal(caller('cli_other', 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAC', ['orders:approve']))).toEqual({
      status: 404,
      code: 'resource_not_found',
    });
    // A platform client that is not the operator (a redemption channel) is no approver either.
    expect(refusal(caller('cli_channel', null, ['redemptions:write']))?.status).toBe(404);
  });
});
