import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/** Every object id is a type prefix plus a ULID: unique, sortable by creation time, unguessable enough to share. */
export const ID_PREFIXES = {
  enterprise: 'ent',
  apiClient: 'cli',
  apiClientSecret: 'sec',
  product: 'prd',
  order: 'ord',
  orderLine: 'oli',
  payment: 'pay',
  journalEntry: 'jrn',
  batch: 'bat',
  card: 'crd',
  distribution: 'dst',
  distributionRecipient: 'drc',
  distributionFile: 'dfl',
  distributionMessage: 'dms',
  event: 'evt',
  webhookEndpoint: 'whe',
  webhookDelivery: 'whd',
  webhookAttempt: 'wha',
  invoice: 'inv',
  invoiceReturn: 'ivr',
  statement: 'stm',
  reconciliation: 'rcn',
  export: 'exp',
  exportKey: 'xpk',
  audit: 'aud',
  reencryption: 'rek',
  request: 'req',
  redemption: 'rdm',
  storedFile: 'fil',
  riskAlert: 'rsk',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

/**
 * ulid's default PRNG asks the kernel for one byte per character; drawing from a
 * pooled buffer of crypto-random bytes is ~10× cheaper (ids are made per request).
 * byte / 256 maps evenly onto the 32-letter alphabet, so the ids stay unbiased.
 */
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;
export function pooledRandom(): number {
  if (offset === POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  return pool[offset++] / 256;
}

const nextUlid = monotonicFactory(pooledRandom);

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${nextUlid()}`;
}

const ULID_BODY = '[0-9A-HJKMNP-TV-Z]{26}';

/** Any object id (for cursors that may point at any kind). */
export const ANY_ID_PATTERN = new RegExp(`^[a-z]{3}_${ULID_BODY}$`);

/** The shape of one kind's ids, for validation decorators and checks alike. */
export function idPattern(kind: IdKind): RegExp {
  return new RegExp(`^${ID_PREFIXES[kind]}_${ULID_BODY}$`);
}

export function isId(kind: IdKind, value: string): boolean {
  return idPattern(kind).test(value);
}
