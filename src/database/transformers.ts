import type { ValueTransformer } from 'typeorm';

/**
 * `bigint` columns come back from pg as strings; money in fen stays far below
 * 2^53, so it is safe as a JS number, and the check makes any overflow loud.
 */
export const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => {
    if (value === null) return null;
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed)) throw new RangeError(`bigint ${value} exceeds the safe integer range`);
    return parsed;
  },
};
