import { EnterpriseStatusHooks } from './enterprise-status-hooks';
import type { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import type { TransactionService } from '../database/transaction.service';
import type { Enterprise } from './enterprise.entity';
import type { EnterpriseLookup, EnterprisesRepository, NewEnterprise } from './enterprises.repository';
import { EnterprisesService } from './enterprises.service';

const VALID_CODE = '91350100M000100Y43';

class FakeEnterprisesRepository {
  readonly rows = new Map<string, Enterprise>();
  lookups: EnterpriseLookup[] = [];

  async insertIfAbsent(_ctx: RequestContext, enterprise: NewEnterprise): Promise<boolean> {
    if ([...this.rows.values()].some((row) => row.creditCode === enterprise.creditCode)) return false;
    this.rows.set(enterprise.id, { ...enterprise, currency: 'CNY', createdAt: new Date(), updatedAt: new Date() });
    return true;
  }
  async idByCreditCode(_ctx: RequestContext, creditCode: string): Promise<string | null> {
    return [...this.rows.values()].find((row) => row.creditCode === creditCode)?.id ?? null;
  }
  async findById(_ctx: RequestContext, id: string, lookup: EnterpriseLookup = {}): Promise<Enterprise | null> {
    this.lookups.push(lookup);
    if (lookup.onlyId !== undefined && lookup.onlyId !== id) return null;
    return this.rows.get(id) ?? null;
  }
  async update(_ctx: RequestContext, id: string, changes: Partial<NewEnterprise>): Promise<Enterprise> {
    Object.assign(this.rows.get(id)!, changes);
    return this.rows.get(id)!;
  }
}

function setup() {
  const repository = new FakeEnterprisesRepository();
  const audit = { record: jest.fn(async () => undefined) };
  const forgotten: string[] = [];
  const hooks = new EnterpriseStatusHooks();
  hooks.onStatusChanged((id) => forgotten.push(id));
  const transactions = {
    run: async <T>(_ctx: RequestContext, work: () => Promise<T>) => work(),
    afterCommit: async (_ctx: RequestContext, callback: () => void) => callback(),
  };
  const service = new EnterprisesService(
    repository as unknown as EnterprisesRepository,
    transactions as unknown as TransactionService,
    audit as unknown as AuditService,
    hooks,
  );
  return { service, repository, audit, forgotten };
}

const operator = () =>
  new RequestContext('req_test', { clientId: 'cli_op', enterpriseId: null, scopes: new Set(['admin']) });
const tenant = (enterpriseId: string) =>
  new RequestContext('req_test', { clientId: 'cli_t', enterpriseId, scopes: new Set(['orders:read']) });

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  return promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (error: unknown) => {
      if (error instanceof ApiError) return error;
      throw error;
    },
  );
}

describe('EnterprisesService', () => {
  it('refuses a credit code with a wrong check character before writing anything', async () => {
    const { service, repository } = setup();
    const refused = await refusal(service.create(operator(), { name: 'Acme', credit_code: '91350100M000100Y44' }));
    expect(refused.code).toBe('invalid_credit_code');
    expect(repository.rows.size).toBe(0);
  });

  it('creates an enterprise with its defaults and audits it; a second one with the same code is a 409', async () => {
    const { service, audit } = setup();
    const created = await service.create(operator(), { name: 'Acme', credit_code: VALID_CODE });
    expect(created).toMatchObject({ name: 'Acme', invoice_title: 'Acme', discount_bps: 0, status: 'active' });
    expect(audit.record).toHaveBeenCalledTimes(1);
    const refused = await refusal(service.create(operator(), { name: 'Other', credit_code: VALID_CODE }));
    expect(refused).toMatchObject({ code: 'enterprise_exists' });
  });

  it('lets a tenant see only its own enterprise (404 for another)', async () => {
    const { service, repository } = setup();
    const own = await service.create(operator(), { name: 'Acme', credit_code: VALID_CODE });
    await expect(service.get(tenant(own.id), own.id)).resolves.toMatchObject({ id: own.id });
    const other = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';
    expect((await refusal(service.get(tenant(other), own.id))).code).toBe('resource_not_found');
    expect(repository.lookups.at(-1)).toEqual({ onlyId: other });
  });

  it('writes nothing for a PATCH that changes nothing, and forgets the clients of a suspended tenant', async () => {
    const { service, audit, forgotten } = setup();
    const own = await service.create(operator(), { name: 'Acme', credit_code: VALID_CODE });
    audit.record.mockClear();
    await service.update(operator(), own.id, { name: 'Acme' });
    expect(audit.record).not.toHaveBeenCalled();
    await service.update(operator(), own.id, { status: 'suspended' });
    expect(forgotten).toEqual([own.id]);
    expect((await refusal(service.findActive(operator(), own.id))).code).toBe('enterprise_suspended');
  });
});
