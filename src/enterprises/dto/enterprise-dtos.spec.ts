import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CreateEnterpriseDto } from './create-enterprise.dto';
import { ListEnterprisesQueryDto } from './list-enterprises-query.dto';
import { UpdateEnterpriseDto } from './update-enterprise.dto';

/** What the global ValidationPipe does: transform, then validate with whitelist + forbidNonWhitelisted. */
function check<T extends object>(type: new () => T, body: Record<string, unknown>) {
  const instance = plainToInstance(type, body);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true });
  return { instance, fields: errors.map((error) => error.property).sort() };
}

const VALID = { name: '福州示例科技有限公司', credit_code: '91350100M000100Y43' };

describe('CreateEnterpriseDto', () => {
  it('accepts the minimal body and normalises the credit code and name', () => {
    const { instance, fields } = check(CreateEnterpriseDto, {
      name: '  福州示例  ',
      credit_code: ' 91350100m000100y43 ',
    });
    expect(fields).toEqual([]);
    expect(instance.credit_code).toBe('91350100M000100Y43');
    expect(instance.name).toBe('福州示例');
  });

  it('leaves the check character to the service: a well-formed code with a wrong check passes validation', () => {
    expect(check(CreateEnterpriseDto, { ...VALID, credit_code: '911100001000180394' }).fields).toEqual([]);
  });

  it.each(['91350100M000100Y4', '91350100M000100Y433', '91350100M000100I43', '', 91350100])(
    'refuses the malformed credit code %p as a credit_code error',
    (creditCode) => {
      expect(check(CreateEnterpriseDto, { ...VALID, credit_code: creditCode }).fields).toEqual(['credit_code']);
    },
  );

  it('accepts every optional field', () => {
    const { fields } = check(CreateEnterpriseDto, {
      ...VALID,
      invoice_title: '福州示例科技有限公司',
      registered_address: '福州市鼓楼区示例路 1 号',
      phone: '0591-87654321',
      bank_name: '中国工商银行福州分行',
      bank_account: '1402 0210 0920 0012 345',
      contact_email: 'finance@example.cn',
      discount_bps: 10000,
      credit_limit: 0,
    });
    expect(fields).toEqual([]);
  });

  it('turns blank optional text into null', () => {
    const { instance, fields } = check(CreateEnterpriseDto, { ...VALID, registered_address: '   ', invoice_title: '' });
    expect(fields).toEqual([]);
    expect(instance.registered_address).toBeNull();
    expect(instance.invoice_title).toBeNull();
  });

  it.each([
    ['discount_bps', 10001],
    ['discount_bps', -1],
    ['discount_bps', 1.5],
    ['credit_limit', -1],
    ['credit_limit', 10.5],
    ['credit_limit', '100'],
    ['contact_email', 'not-an-email'],
    ['phone', 'call me'],
    ['bank_account', 'IBAN?'],
    ['name', ''],
    ['name', 'x'.repeat(201)],
  ])('refuses %s = %p', (field, value) => {
    expect(check(CreateEnterpriseDto, { ...VALID, [field]: value }).fields).toEqual([field]);
  });

  it('requires name and credit_code, and refuses unknown fields', () => {
    expect(check(CreateEnterpriseDto, {}).fields).toEqual(['credit_code', 'name']);
    expect(check(CreateEnterpriseDto, { ...VALID, tax_id: 'x' }).fields).toEqual(['tax_id']);
  });
});

describe('UpdateEnterpriseDto', () => {
  it('accepts an empty body and any subset', () => {
    expect(check(UpdateEnterpriseDto, {}).fields).toEqual([]);
    expect(check(UpdateEnterpriseDto, { status: 'suspended', discount_bps: 250 }).fields).toEqual([]);
  });

  it('lets null clear optional details but not required columns', () => {
    expect(check(UpdateEnterpriseDto, { phone: null, bank_account: null, contact_email: null }).fields).toEqual([]);
    expect(
      check(UpdateEnterpriseDto, {
        name: null,
        invoice_title: null,
        discount_bps: null,
        credit_limit: null,
        status: null,
      }).fields,
    ).toEqual(['credit_limit', 'discount_bps', 'invoice_title', 'name', 'status']);
  });

  it('refuses a credit code change and unknown statuses', () => {
    expect(check(UpdateEnterpriseDto, { credit_code: '91350100M000100Y43' }).fields).toEqual(['credit_code']);
    expect(check(UpdateEnterpriseDto, { status: 'deleted' }).fields).toEqual(['status']);
  });
});

describe('ListEnterprisesQueryDto', () => {
  it('normalises the credit_code filter and checks the status', () => {
    const { instance, fields } = check(ListEnterprisesQueryDto, {
      credit_code: '91350100m000100y43',
      status: 'active',
      limit: '5',
    });
    expect(fields).toEqual([]);
    expect(instance.credit_code).toBe('91350100M000100Y43');
    expect(instance.limit).toBe(5);
    expect(check(ListEnterprisesQueryDto, { status: 'gone' }).fields).toEqual(['status']);
  });
});
