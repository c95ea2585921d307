import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import fc from 'fast-check';
import {
  idNumberProblem,
  isValidResidentId,
  maskPurchaser,
  parsePurchaser,
  type PurchaserIdentity,
  PurchaserIdentityDto,
  residentIdCheckCharacter,
  residentIdProblem,
  serialisePurchaser,
} from './purchaser-identity';

/**
 * ISO 7064 MOD 11-2 written out independently of the implementation: weight 2^(17−i) mod 11, and the check
 * value c is the one with (sum + c) ≡ 1 (mod 11), 10 written X.
 */
function referenceCheck(body: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(body[i]) * (2 ** (17 - i) % 11);
  for (let c = 0; c <= 10; c++) if ((sum + c) % 11 === 1) return c === 10 ? 'X' : String(c);
  throw new Error('unreachable');
}

const withCheck = (body: string) => body + referenceCheck(body);
/** The same number with another (wrong) check character. */
const withWrongCheck = (id: string) => id.slice(0, 17) + (id[17] === '0' ? '1' : '0');

/** The examples printed in GB 11643-1999 itself. */
const STANDARD_EXAMPLES = ['11010519491231002X', '440524188001010014'];

/** Bodies of our own making: region, birth date (incl. 29 February of a leap year), sequence. */
const CONSTRUCTED = [
  '11010119900307447', // Beijing Dongcheng, 1990-03-07
  '31010419850715002', // Shanghai Xuhui, 1985-07-15
  '44030519991231123', // Shenzhen Nanshan, 1999-12-31
  '65010220000229567', // Urumqi, 2000-02-29 (leap year)
  '81000019780101001', // Hong Kong residence permit, 1978-01-01
].map(withCheck);

const NOW = new Date('2025-06-15T12:00:00Z');

function check(body: Record<string, unknown>) {
  const instance = plainToInstance(PurchaserIdentityDto, body);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true });
  return {
    instance,
    fields: errors.map((error) => error.property).sort(),
    messages: errors.flatMap((error) => Object.values(error.constraints ?? {})),
  };
}

const VALID = { name: '张三', id_type: 'resident_id', id_number: '11010519491231002X', phone: '13800138000' };

describe('resident ID (GB 11643)', () => {
  it.each(STANDARD_EXAMPLES)('computes the printed check character of %s', (id) => {
    expect(residentIdCheckCharacter(id.slice(0, 17))).toBe(id[17]);
    expect(residentIdCheckCharacter(id)).toBe(id[17]);
  });

  it('accepts the standard example born 1949 and refuses the one born 1880 (no living purchaser)', () => {
    expect(isValidResidentId('11010519491231002X', NOW)).toBe(true);
    expect(residentIdProblem('440524188001010014', NOW)).toBe('has an impossible birth date');
  });

  it.each(CONSTRUCTED)('accepts the constructed number %s', (id) => {
    expect(residentIdProblem(id, NOW)).toBeNull();
  });

  it('computes X for a remainder of 2 (check value 10)', () => {
    expect(CONSTRUCTED.concat(STANDARD_EXAMPLES).some((id) => id.endsWith('X'))).toBe(true);
    expect(residentIdCheckCharacter('11010519491231002')).toBe('X');
  });

  it.each(['11010519491231002X', ...CONSTRUCTED])('refuses %s with a wrong check character', (id) => {
    expect(residentIdProblem(withWrongCheck(id), NOW)).toBe('has a wrong check character');
  });

  it.each([
    ['30 February', '11010119900230'],
    ['31 April', '11010119900431'],
    ['29 February of a common year', '11010119010229'],
    ['month 13', '11010119901301'],
    ['month 00', '11010119900001'],
    ['day 00', '11010119900300'],
    ['before 1900', '11010118991231'],
    ['in the future', '11010120991231'],
  ])('refuses an impossible birth date (%s) even with a correct check character', (_label, prefix) => {
    const id = withCheck(`${prefix}123`);
    expect(residentIdProblem(id, NOW)).toBe('has an impossible birth date');
  });

  it('accepts a birth date of today in China and refuses tomorrow', () => {
    // 2025-06-15T20:00Z is already 16 June in Beijing.
    const evening = new Date('2025-06-15T20:00:00Z');
    expect(residentIdProblem(withCheck('11010120250616123'), evening)).toBeNull();
    expect(residentIdProblem(withCheck('11010120250617123'), evening)).toBe('has an impossible birth date');
  });

  it.each([
    ['17 characters', '11010519491231002'],
    ['19 characters', '11010519491231002X1'],
    ['a letter in the body', '1101051949123100AX'],
    ['lower-case x (the DTO upper-cases first)', '11010519491231002x'],
    ['an old 15-digit number', '110105491231002'],
  ])('refuses a malformed number (%s)', (_label, id) => {
    expect(residentIdProblem(id, NOW)).toBe('must be 18 characters: 17 digits and a digit or X');
  });

  it('refuses a body of the wrong shape when asked for its check character', () => {
    expect(() => residentIdCheckCharacter('1101051949')).toThrow(RangeError);
    expect(() => residentIdCheckCharacter('1101051949123100A')).toThrow(RangeError);
  });

  it('property: the computed check character matches the reference and makes a valid number', () => {
    const body = fc
      .tuple(
        fc.integer({ min: 110000, max: 829999 }),
        fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2025-06-14T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: 0, max: 999 }),
      )
      .map(
        ([region, birth, sequence]) =>
          `${region}${birth.toISOString().slice(0, 10).replaceAll('-', '')}${String(sequence).padStart(3, '0')}`,
      );
    fc.assert(
      fc.property(body, (b) => {
        expect(residentIdCheckCharacter(b)).toBe(referenceCheck(b));
        expect(isValidResidentId(b + residentIdCheckCharacter(b), NOW)).toBe(true);
      }),
    );
  });

  it('property: any single-digit change of the body is caught by the check character', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...STANDARD_EXAMPLES, ...CONSTRUCTED),
        fc.nat(16),
        fc.integer({ min: 0, max: 9 }),
        (id, position, digit) => {
          fc.pre(id[position] !== String(digit));
          const altered = id.slice(0, position) + String(digit) + id.slice(position + 1);
          expect(isValidResidentId(altered, NOW)).toBe(false);
        },
      ),
    );
  });
});

describe('idNumberProblem for the other document types', () => {
  it.each([
    ['passport', 'E12345678'],
    ['passport', 'EA1234567'],
    ['passport', 'X1234'],
    ['hk_macao_permit', 'H12345678'],
    ['hk_macao_permit', 'M1234567890'],
    ['taiwan_permit', '12345678'],
    ['taiwan_permit', '1234567890B'],
  ])('accepts %s %s', (type, number) => {
    expect(idNumberProblem(type, number)).toBeNull();
  });

  it.each([
    ['passport', 'E123'],
    ['passport', 'E1234567890123456789X'],
    ['passport', 'E1234-567'],
    ['hk_macao_permit', 'C12345678'],
    ['hk_macao_permit', 'H1234567'],
    ['taiwan_permit', '1234567'],
    ['taiwan_permit', 'T12345678'],
  ])('refuses %s %s', (type, number) => {
    expect(idNumberProblem(type, number)).toMatch(/^must be /);
  });

  it('leaves an unknown id_type to the id_type validator', () => {
    expect(idNumberProblem('driving_licence', 'anything')).toBeNull();
    expect(idNumberProblem(undefined, 'anything')).toBeNull();
  });
});

describe('PurchaserIdentityDto', () => {
  it('accepts a valid identity', () => {
    const { instance, fields } = check(VALID);
    expect(fields).toEqual([]);
    expect(instance).toEqual(VALID);
  });

  it('normalises: trims the name, upper-cases and compacts the number, strips +86', () => {
    const { instance, fields } = check({
      name: '  李四 ',
      id_type: 'resident_id',
      id_number: ' 110105 19491231 002x ',
      phone: '+86 13912345678',
    });
    expect(fields).toEqual([]);
    expect(instance).toEqual({
      name: '李四',
      id_type: 'resident_id',
      id_number: '11010519491231002X',
      phone: '13912345678',
    });
    expect(check({ ...VALID, phone: '+8613912345678' }).instance.phone).toBe('13912345678');
    expect(check({ ...VALID, phone: '+86-13912345678' }).instance.phone).toBe('13912345678');
  });

  it('refuses a resident ID with a wrong check character, naming the reason', () => {
    const { fields, messages } = check({ ...VALID, id_number: '110105194912310021' });
    expect(fields).toEqual(['id_number']);
    expect(messages).toEqual(['id_number has a wrong check character']);
  });

  it('refuses a resident ID with an impossible birth date', () => {
    const { fields, messages } = check({ ...VALID, id_number: withCheck('11010519490230002') });
    expect(fields).toEqual(['id_number']);
    expect(messages).toEqual(['id_number has an impossible birth date']);
  });

  it('checks the number against its own id_type', () => {
    expect(check({ ...VALID, id_type: 'passport', id_number: 'E12345678' }).fields).toEqual([]);
    expect(check({ ...VALID, id_type: 'hk_macao_permit', id_number: 'h12345678' }).fields).toEqual([]);
    expect(check({ ...VALID, id_type: 'taiwan_permit', id_number: 'E12345678' }).fields).toEqual(['id_number']);
    expect(check({ ...VALID, id_type: 'passport', id_number: 'E1' }).messages).toEqual([
      'id_number must be 5 to 20 letters or digits for passport',
    ]);
  });

  it.each([
    ['name', ''],
    ['name', '   '],
    ['name', 'x'.repeat(51)],
    ['name', 42],
    ['id_type', 'driving_licence'],
    ['id_type', undefined],
    ['id_number', 11010519491231002],
    ['phone', '12800138000'],
    ['phone', '1380013800'],
    ['phone', '138001380001'],
    ['phone', '+85213800138000'],
    ['phone', '010-12345678'],
    ['phone', 13800138000],
  ])('refuses %s = %p', (field, value) => {
    expect(check({ ...VALID, [field]: value }).fields).toEqual([field]);
  });

  it('counts name length in characters, not UTF-16 units', () => {
    expect(check({ ...VALID, name: '𠀀'.repeat(50) }).fields).toEqual([]);
    expect(check({ ...VALID, name: '𠀀'.repeat(51) }).fields).toEqual(['name']);
  });

  it('refuses missing and unknown fields', () => {
    expect(check({}).fields).toEqual(['id_number', 'id_type', 'name', 'phone']);
    expect(check({ ...VALID, email: 'a@b.cn' }).fields).toEqual(['email']);
  });
});

describe('maskPurchaser', () => {
  it('keeps the first character of the name, 3 + 4 of the number and 3 + 4 of the phone', () => {
    expect(maskPurchaser(VALID as PurchaserIdentity)).toEqual({
      name: '张*',
      id_type: 'resident_id',
      id_number: '110***********002X',
      phone: '138****8000',
    });
  });

  it('masks every further character of the name, and always at least one', () => {
    const mask = (name: string) => maskPurchaser({ ...(VALID as PurchaserIdentity), name }).name;
    expect(mask('欧阳娜娜')).toBe('欧***');
    expect(mask('王')).toBe('王*');
    expect(mask('𠀀𠀁')).toBe('𠀀*');
    expect(mask('Li Wei')).toBe('L*****');
  });

  it('hides at least half of a short document number', () => {
    const mask = (id_type: PurchaserIdentity['id_type'], id_number: string) =>
      maskPurchaser({ ...(VALID as PurchaserIdentity), id_type, id_number }).id_number;
    expect(mask('passport', 'E12345678')).toBe('E1*****78');
    expect(mask('taiwan_permit', '12345678')).toBe('12****78');
    expect(mask('passport', 'X1234')).toBe('X***4');
    expect(mask('hk_macao_permit', 'M1234567890')).toBe('M1*******90');
  });

  it('masks a +86 phone as its 11 digits', () => {
    expect(maskPurchaser({ ...(VALID as PurchaserIdentity), phone: '+8613912345678' }).phone).toBe('139****5678');
  });

  it('property: the masked number keeps its length and hides at least half of it', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z0-9]{5,20}$/), (id_number) => {
        const masked = maskPurchaser({ ...(VALID as PurchaserIdentity), id_type: 'passport', id_number }).id_number;
        expect(masked).toHaveLength(id_number.length);
        expect(masked.split('').filter((c) => c === '*').length).toBeGreaterThanOrEqual(id_number.length / 2);
      }),
    );
  });
});

describe('serialisePurchaser / parsePurchaser', () => {
  it('round-trips, with a fixed field order and nothing else', () => {
    const identity: PurchaserIdentity = {
      phone: '13800138000',
      name: '张三',
      id_number: 'E12345678',
      id_type: 'passport',
    };
    const json = serialisePurchaser({ ...identity, extra: 'dropped' } as PurchaserIdentity);
    expect(json).toBe('{"name":"张三","id_type":"passport","id_number":"E12345678","phone":"13800138000"}');
    expect(parsePurchaser(json)).toEqual(identity);
  });

  it('round-trips a validated DTO', () => {
    const { instance } = check(VALID);
    expect(parsePurchaser(serialisePurchaser(instance))).toEqual(VALID);
  });

  it.each([
    ['not JSON', '{"name":'],
    ['an array', '[]'],
    ['null', 'null'],
    ['a missing field', '{"name":"张三","id_type":"passport","id_number":"E12345678"}'],
    ['an extra field', '{"name":"张三","id_type":"passport","id_number":"E1","phone":"1","x":1}'],
    ['an unknown id_type', '{"name":"张三","id_type":"visa","id_number":"E12345678","phone":"13800138000"}'],
    ['a number field', '{"name":"张三","id_type":"passport","id_number":12345678,"phone":"13800138000"}'],
  ])('refuses %s with a TypeError that does not echo the data', (_label, json) => {
    expect(() => parsePurchaser(json)).toThrow(TypeError);
    try {
      parsePurchaser(json);
    } catch (error) {
      expect((error as Error).message).not.toMatch(/张三|E1234|1380013/);
    }
  });
});
