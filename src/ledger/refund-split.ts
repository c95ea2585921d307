/** How a refund of an order's money divides between the enterprise's credit line and its prepaid balance. */
export interface RefundSplit {
  /** fen given back to the credit line (receivable goes down). */
  toCredit: number;
  /** fen credited to the prepaid balance. */
  toPrepaid: number;
}

/**
 * The one rule of every refund of an order's money (a paid order cancelled, its unused cards voided): what the
 * order drew on the credit line and has not had back goes back to the credit line first, as far as the enterprise
 * still uses credit; only the rest becomes prepaid balance. Credit repaid meanwhile was paid with the enterprise's
 * own money, so that part comes back as prepaid; credit never does, or a credit line would turn into prepaid
 * balance that pays orders which must be paid by bank transfer.
 *
 * `orderCredit`: Σ of the order's receivable lines (drawn at payment, less what refunds gave back already).
 * `creditUsed`: the enterprise's receivable balance, read under its funds lock.
 */
export function refundSplit(amount: number, orderCredit: number, creditUsed: number): RefundSplit {
  for (const [name, value] of Object.entries({ amount, orderCredit, creditUsed })) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`${name} must be a non-negative integer of fen`);
  }
  const toCredit = Math.min(amount, orderCredit, creditUsed);
  return { toCredit, toPrepaid: amount - toCredit };
}
