import { monotonicFactory } from 'ulid';

/** Every object id is a type prefix plus a ULID: unique, sortable by creation time, unguessable enough to share. */
export const ID_PREFIXES = {
  enterprise: 'ent',
  apiClient: 'cli',
  apiClientSecret: 'sec',
  product: 'prd',
  order: 'ord',
  batch: 'bat',
  card: 'crd',
  distribution: 'dst',
  event: 'evt',
  webhookEndpoint: 'whe',
  invoice: 'inv',
  statement: 'stm',
  export: 'exp',
  audit: 'aud',
  request: 'req',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

const nextUlid = monotonicFactory();

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${nextUlid()}`;
}

export function isId(kind: IdKind, value: string): boolean {
  return new RegExp(`^${ID_PREFIXES[kind]}_[0-9A-HJKMNP-TV-Z]{26}$`).test(value);
}
