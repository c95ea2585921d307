import { CreateOrderDto } from '../orders/dto/create-order.dto';
import { RecordPaymentDto } from '../orders/dto/payment.dto';
import { ApiError } from './errors/api-error';
import { createValidationPipe, MAX_BODY_DEPTH, nestedDeeperThan } from './validation';

const PRODUCT = 'prd_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';
const ENTERPRISE = 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';

function order(line: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    po_number: 'PO-1',
    payment_method: 'prepaid_balance',
    lines: [{ product_id: PRODUCT, face_value: 10_000, quantity: 1, ...line }],
    ...extra,
  };
}

function payment(amount: unknown) {
  return {
    enterprise_id: ENTERPRISE,
    kind: 'deposit',
    amount,
    payer_account_name: 'Acme',
    payer_account_number: '1001 2345',
    bank_reference: 'CMB-1',
  };
}

/** What the global pipe answers for a body: the rendered ApiError, or null when it passes. */
async function refusal(metatype: new () => object, body: unknown) {
  try {
    await createValidationPipe().transform(body, { type: 'body', metatype });
    return null;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { status: error.getStatus(), code: error.code, detail: error.detail, errors: error.extra.errors };
  }
}

describe('validation pipe: field codes', () => {
  it('passes a valid order', async () => {
    expect(await refusal(CreateOrderDto, order({}))).toBeNull();
  });

  it.each([0, -1, 1.5, 1_000_001, '3', null])('quantity %p is invalid_quantity, once', async (quantity) => {
    expect(await refusal(CreateOrderDto, order({ quantity }))).toEqual({
      status: 400,
      code: 'invalid_quantity',
      detail: 'quantity must be a whole number from 1 to 1,000,000',
      errors: [
        {
          field: 'lines.0.quantity',
          code: 'invalid_quantity',
          message: 'quantity must be a whole number from 1 to 1,000,000',
        },
      ],
    });
  });

  it.each([0, -100, 100.5, Number.MAX_SAFE_INTEGER + 1, '100'])('amount %p is invalid_amount', async (amount) => {
    expect(await refusal(RecordPaymentDto, payment(amount))).toEqual({
      status: 400,
      code: 'invalid_amount',
      detail: 'amount must be a whole number of fen of at least 1',
      errors: [
        { field: 'amount', code: 'invalid_amount', message: 'amount must be a whole number of fen of at least 1' },
      ],
    });
  });

  it('names greeting_too_long', async () => {
    const refused = await refusal(CreateOrderDto, order({ greeting: '福'.repeat(201) }));
    expect(refused).toMatchObject({
      code: 'greeting_too_long',
      errors: [
        { field: 'lines.0.greeting', code: 'greeting_too_long', message: 'greeting must be at most 200 characters' },
      ],
    });
  });

  it('keeps validation_failed when the fields disagree, each entry with its own code', async () => {
    const refused = await refusal(CreateOrderDto, order({ quantity: 0, face_value: 0 }));
    expect(refused).toMatchObject({ status: 400, code: 'validation_failed', detail: '2 fields are invalid' });
    expect(refused?.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'lines.0.quantity', code: 'invalid_quantity' }),
        expect.objectContaining({ field: 'lines.0.face_value', code: 'invalid_amount' }),
      ]),
    );
  });

  it('gives generic codes to unknown fields and uncoded constraints, which never take the top level', async () => {
    expect(await refusal(CreateOrderDto, order({}, { colour: 'red' }))).toMatchObject({
      code: 'validation_failed',
      errors: [{ field: 'colour', code: 'unknown_field', message: "unknown field 'colour'" }],
    });
    expect(await refusal(CreateOrderDto, order({}, { payment_method: 'cash' }))).toMatchObject({
      code: 'validation_failed',
      errors: [{ field: 'payment_method', code: 'invalid_value' }],
    });
    // A specific code beside a generic one: still validation_failed.
    expect(await refusal(CreateOrderDto, order({ quantity: 0 }, { colour: 'red' }))).toMatchObject({
      code: 'validation_failed',
    });
  });

  it('defaults the code of hand-made field errors to invalid_value', () => {
    const error = ApiError.validation([{ field: 'order_id', message: 'order_id goes only with kind order_transfer' }]);
    expect(error.code).toBe('validation_failed');
    expect(error.extra.errors).toEqual([
      { field: 'order_id', message: 'order_id goes only with kind order_transfer', code: 'invalid_value' },
    ]);
  });
});

describe('body nesting', () => {
  const nested = (depth: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  };

  it('measures depth without recursion, objects and arrays alike', () => {
    expect(nestedDeeperThan({ a: { b: [1] } }, 3)).toBe(false);
    expect(nestedDeeperThan({ a: { b: [{}] } }, 3)).toBe(true);
    expect(nestedDeeperThan(nested(MAX_BODY_DEPTH), MAX_BODY_DEPTH)).toBe(false);
    expect(nestedDeeperThan(nested(1_000_000), MAX_BODY_DEPTH)).toBe(true);
    expect(nestedDeeperThan('text', 0)).toBe(false);
  });

  it('refuses a body nested deeper than the limit with 400 nesting_too_deep, before transforming it', async () => {
    const error = await refusal(CreateOrderDto, { ...order({}), purchaser: nested(10_000) });
    expect(error).toMatchObject({ status: 400, code: 'nesting_too_deep' });
  });
});
