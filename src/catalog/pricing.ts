/**
 * Order pricing: face totals, the enterprise discount and the payable amount, all in integer fen.
 *
 * The one rounding rule: the discount is computed ONCE, on the order's face total,
 *
 *     discountTotal = round half up (faceTotal × discountBps / 10000)
 *     payable       = faceTotal − discountTotal
 *
 * never per card or per line, so splitting a line in two or reordering lines never changes what is
 * paid, and the discount is always within half a fen of the exact rational amount. The arithmetic is
 * done in BigInt (a face total can reach 10^12 fen, and faceTotal × bps would then pass 2^53), and
 * every result is returned as a safe integer (RangeError otherwise).
 *
 * `unitPrice` applies the same rule to one card of a face value: it is the catalogue price shown to an
 * enterprise. An order's payable is NOT the sum of unit prices × quantities when rounding is involved;
 * it is computed on the order's face total as above.
 */

/** The discount is expressed in basis points: 10000 = 100 %. */
export const BPS_DENOMINATOR = 10_000;

const DENOMINATOR = BigInt(BPS_DENOMINATOR);
const HALF = DENOMINATOR / 2n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export interface PricingLine {
  /** Fen per card: a positive integer. */
  faceValue: number;
  /** Cards on the line: a positive integer. */
  quantity: number;
}

export interface PricedLine {
  /** faceValue × quantity, in fen. */
  faceTotal: number;
}

export interface PricedOrder {
  /** Sum of the lines' face totals, in fen. */
  faceTotal: number;
  /** round half up (faceTotal × discountBps / 10000), in fen. */
  discountTotal: number;
  /** faceTotal − discountTotal, in fen. */
  payable: number;
  /** One per input line, in the same order. */
  lines: PricedLine[];
}

function requirePositiveInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${what} must be a positive safe integer, got ${String(value)}`);
  }
}

function requireBps(discountBps: number): void {
  if (!Number.isInteger(discountBps) || discountBps < 0 || discountBps > BPS_DENOMINATOR) {
    throw new RangeError(`discountBps must be an integer from 0 to ${BPS_DENOMINATOR}, got ${String(discountBps)}`);
  }
}

function toSafeNumber(value: bigint, what: string): number {
  if (value > MAX_SAFE) throw new RangeError(`${what} (${value} fen) exceeds Number.MAX_SAFE_INTEGER`);
  return Number(value);
}

/** round half up (amount × bps / 10000) for amount ≥ 0 and 0 ≤ bps ≤ 10000, exactly. */
function discountOf(amount: bigint, discountBps: number): bigint {
  return (amount * BigInt(discountBps) + HALF) / DENOMINATOR;
}

/**
 * Prices an order: each line's face total, then the discount once on the order's face total.
 * Throws RangeError for an empty order, a non-positive or non-integer face value or quantity, a
 * discount outside 0–10000 bps, or any total beyond Number.MAX_SAFE_INTEGER.
 */
export function priceOrder(lines: readonly PricingLine[], discountBps: number): PricedOrder {
  requireBps(discountBps);
  if (lines.length === 0) throw new RangeError('An order needs at least one line');
  let faceTotal = 0n;
  const priced: PricedLine[] = lines.map((line, index) => {
    requirePositiveInteger(line.faceValue, `lines[${index}].faceValue`);
    requirePositiveInteger(line.quantity, `lines[${index}].quantity`);
    const lineTotal = BigInt(line.faceValue) * BigInt(line.quantity);
    faceTotal += lineTotal;
    return { faceTotal: toSafeNumber(lineTotal, `lines[${index}].faceTotal`) };
  });
  const discountTotal = discountOf(faceTotal, discountBps);
  return {
    faceTotal: toSafeNumber(faceTotal, 'faceTotal'),
    discountTotal: toSafeNumber(discountTotal, 'discountTotal'),
    payable: toSafeNumber(faceTotal - discountTotal, 'payable'),
    lines: priced,
  };
}

/**
 * What one card of `faceValue` costs an enterprise with `discountBps`, by the same rule:
 * faceValue − round half up (faceValue × discountBps / 10000). Same input checks as priceOrder.
 */
export function unitPrice(faceValue: number, discountBps: number): number {
  requireBps(discountBps);
  requirePositiveInteger(faceValue, 'faceValue');
  const face = BigInt(faceValue);
  return Number(face - discountOf(face, discountBps));
}
