import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CreateProductDto } from './create-product.dto';
import { ListProductsQueryDto } from './list-products-query.dto';
import { UpdateProductDto } from './update-product.dto';

/** What the global ValidationPipe does: transform, then validate with whitelist + forbidNonWhitelisted. */
function check<T extends object>(type: new () => T, body: Record<string, unknown>) {
  const instance = plainToInstance(type, body);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true });
  return { instance, fields: errors.map((error) => error.property).sort() };
}

const VALID = {
  name: '福利电子卡',
  card_type: 'anonymous',
  face_values: [10_000, 5_000],
  validity_months: 36,
  designs: ['classic'],
};

describe('CreateProductDto', () => {
  it('accepts the minimal body and trims the name', () => {
    const { instance, fields } = check(CreateProductDto, { ...VALID, name: '  福利电子卡 ' });
    expect(fields).toEqual([]);
    expect(instance.name).toBe('福利电子卡');
  });

  it('accepts every field, and null validity (no expiry)', () => {
    const body = {
      ...VALID,
      description: '春节福利',
      card_type: 'registered',
      face_values: [5_000, 500_000],
      validity_months: null,
      designs: ['classic', 'spring_festival', 'mid-autumn2'],
      greeting_allowed: true,
      active: false,
    };
    expect(check(CreateProductDto, body).fields).toEqual([]);
  });

  it.each([
    ['face_values', [4_999]],
    ['face_values', [500_001]],
    ['face_values', [5_000, 5_000]],
    ['face_values', [5_000.5]],
    ['face_values', ['5000']],
    ['face_values', []],
    ['face_values', 5_000],
    ['face_values', Array.from({ length: 21 }, (_, i) => 5_000 + i)],
    ['validity_months', 0],
    ['validity_months', 1.5],
    ['validity_months', 1_201],
    ['validity_months', '36'],
    ['validity_months', undefined],
    ['designs', []],
    ['designs', ['Classic']],
    ['designs', ['classic', 'classic']],
    ['designs', ['1st']],
    ['designs', 'classic'],
    ['card_type', 'gift'],
    ['name', ''],
    ['name', 'x'.repeat(201)],
    ['greeting_allowed', 'yes'],
    ['greeting_allowed', null],
    ['active', null],
  ])('refuses %s = %p', (field, value) => {
    expect(check(CreateProductDto, { ...VALID, [field]: value }).fields).toEqual([field]);
  });

  it('requires name, card_type, face_values, validity_months and designs; refuses unknown fields', () => {
    expect(check(CreateProductDto, {}).fields).toEqual([
      'card_type',
      'designs',
      'face_values',
      'name',
      'validity_months',
    ]);
    expect(check(CreateProductDto, { ...VALID, price: 1 }).fields).toEqual(['price']);
  });
});

describe('UpdateProductDto', () => {
  it('accepts an empty body, any subset, and null for description and validity_months', () => {
    expect(check(UpdateProductDto, {}).fields).toEqual([]);
    expect(check(UpdateProductDto, { active: false, face_values: [5_000] }).fields).toEqual([]);
    expect(check(UpdateProductDto, { description: null, validity_months: null }).fields).toEqual([]);
  });

  it('refuses null in required columns and out-of-range values', () => {
    expect(
      check(UpdateProductDto, {
        name: null,
        card_type: null,
        face_values: null,
        designs: null,
        greeting_allowed: null,
        active: null,
      }).fields,
    ).toEqual(['active', 'card_type', 'designs', 'face_values', 'greeting_allowed', 'name']);
    expect(check(UpdateProductDto, { face_values: [4_999] }).fields).toEqual(['face_values']);
    expect(check(UpdateProductDto, { validity_months: 0 }).fields).toEqual(['validity_months']);
    expect(check(UpdateProductDto, { id: 'prd_x' }).fields).toEqual(['id']);
  });
});

describe('ListProductsQueryDto', () => {
  it('reads active as a boolean and checks card_type', () => {
    expect(check(ListProductsQueryDto, { active: 'true' }).instance.active).toBe(true);
    expect(check(ListProductsQueryDto, { active: 'false' }).instance.active).toBe(false);
    expect(check(ListProductsQueryDto, { active: 'yes' }).fields).toEqual(['active']);
    expect(check(ListProductsQueryDto, { card_type: 'registered', limit: '5' }).fields).toEqual([]);
    expect(check(ListProductsQueryDto, { card_type: 'gift' }).fields).toEqual(['card_type']);
  });
});
