/** The API's scopes (README, "API conventions": each route names the ones it needs); an access token carries a subset of its client's. */
export const SCOPES = [
  'products:read',
  'orders:read',
  'orders:write',
  'orders:approve',
  'distributions:read',
  'distributions:write',
  'cards:read',
  'cards:write',
  'cards:secrets',
  'invoices:read',
  'invoices:write',
  'reconciliation:read',
  'reconciliation:write',
  'webhooks:manage',
  'events:read',
  'redemptions:write',
  'admin',
] as const;

export type Scope = (typeof SCOPES)[number];

/** Scopes an operator client may hold; every other scope belongs to an enterprise client. */
export const OPERATOR_SCOPES: readonly Scope[] = ['admin', 'redemptions:write'];

export const ROLE_SCOPES = {
  hr: [
    'products:read',
    'orders:read',
    'orders:write',
    'distributions:read',
    'distributions:write',
    'cards:read',
    'cards:write',
  ],
  finance: [
    'orders:read',
    'orders:approve',
    'invoices:read',
    'invoices:write',
    'reconciliation:read',
    'reconciliation:write',
  ],
  integrator: ['webhooks:manage', 'events:read'],
} as const satisfies Record<string, readonly Scope[]>;

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
