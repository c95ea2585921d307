import type { AuditService } from '../audit/audit.service';
import { RequestContext } from '../common/context/request-context';
import { ApiError } from '../common/errors/api-error';
import { AppConfig } from '../config/app-config';
import type { TransactionService } from '../database/transaction.service';
import type { EnterprisesService } from '../enterprises/enterprises.service';
import type { CatalogRepository, NewProduct } from './catalog.repository';
import { CatalogService } from './catalog.service';
import { CompliancePolicy } from './compliance.policy';
import type { Product } from './product.entity';

class FakeCatalogRepository {
  readonly rows = new Map<string, Product>();
  updates = 0;
  async insert(_ctx: RequestContext, product: NewProduct): Promise<Product> {
    const row = { ...product, createdAt: new Date(), updatedAt: new Date() };
    this.rows.set(product.id, row);
    return row;
  }
  async findById(_ctx: RequestContext, id: string): Promise<Product | null> {
    return this.rows.get(id) ?? null;
  }
  async update(_ctx: RequestContext, id: string, changes: Partial<NewProduct>): Promise<Product> {
    this.updates++;
    Object.assign(this.rows.get(id)!, changes);
    return this.rows.get(id)!;
  }
  async findActive(_ctx: RequestContext, ids: readonly string[]): Promise<Product[]> {
    return [...this.rows.values()].filter((row) => row.active && ids.includes(row.id));
  }
}

function setup() {
  const repository = new FakeCatalogRepository();
  const audit = { record: jest.fn(async () => undefined) };
  const transactions = { run: async <T>(_ctx: RequestContext, work: () => Promise<T>) => work() };
  const service = new CatalogService(
    repository as unknown as CatalogRepository,
    transactions as unknown as TransactionService,
    audit as unknown as AuditService,
    new CompliancePolicy(new AppConfig()),
    {} as EnterprisesService,
  );
  return { service, repository, audit };
}

const operator = () =>
  new RequestContext('req_test', { clientId: 'cli_op', enterpriseId: null, scopes: new Set(['admin']) });
const base = {
  name: 'Welfare card',
  card_type: 'anonymous' as const,
  face_values: [50_000, 10_000],
  validity_months: 36,
  designs: ['classic'],
};

describe('CatalogService', () => {
  it('sorts face values and audits a new product', async () => {
    const { service, audit } = setup();
    const created = await service.create(operator(), base);
    expect(created).toMatchObject({ face_values: [10_000, 50_000], active: true, greeting_allowed: false });
    expect(audit.record).toHaveBeenCalledTimes(1);
  });

  it('refuses a product the compliance rules refuse, before writing it', async () => {
    const { service, repository } = setup();
    await expect(service.create(operator(), { ...base, face_values: [500_000_000] })).rejects.toBeInstanceOf(ApiError);
    expect(repository.rows.size).toBe(0);
  });

  it('writes and audits nothing for a PATCH that changes nothing; re-checks the terms it changes', async () => {
    const { service, repository, audit } = setup();
    const created = await service.create(operator(), base);
    audit.record.mockClear();
    await service.update(operator(), created.id, { face_values: [50_000, 10_000] });
    expect(repository.updates).toBe(0);
    expect(audit.record).not.toHaveBeenCalled();
    await expect(service.update(operator(), created.id, { validity_months: 1 })).rejects.toMatchObject({
      code: 'validity_too_short',
    });
    expect(repository.updates).toBe(0);
  });

  it('gives the orders module the active products among the ids, once each', async () => {
    const { service } = setup();
    const active = await service.create(operator(), base);
    const inactive = await service.create(operator(), { ...base, active: false });
    const found = await service.findForOrder(RequestContext.system(), [active.id, inactive.id, active.id]);
    expect([...found.keys()]).toEqual([active.id]);
  });
});
