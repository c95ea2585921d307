import type { TestApp } from './app';
import type { CardWithSecret } from './cards';
import { createClient } from './fixtures';

/** An alert as `GET /v1/admin/risk/alerts` lists it. */
export interface RiskAlert {
  id: string;
  rule: string;
  action: string;
  figures: { count: number; threshold: number; window_seconds: number | null };
  serial: string | null;
  holder_ref: string | null;
  client_id: string | null;
  order_id: string | null;
  enterprise_id: string | null;
  recipient_id: string | null;
  end_user_ip: string | null;
}

/**
 * The calls the fraud-rule suites make: a redemption channel's binds and debits (each with a fresh reference, and the
 * end user's IP in the body when given) and the operator's rule settings and alerts. `app` and `operator` are read
 * when a call is made (the suites create them in beforeAll).
 */
export function riskCalls(app: () => TestApp, operator: () => string, referencePrefix: string) {
  let sent = 0;
  const nextRef = () => `${referencePrefix}-${Date.now()}-${sent++}`;
  const endUser = (ip?: string) => (ip ? { end_user: { ip } } : {});
  const post = (token: string, path: string, body: object) =>
    app().http.post(path).auth(token, { type: 'bearer' }).send(body);
  return {
    nextRef,
    post,
    channel: async (name: string) => {
      const client = await createClient(app(), { scopes: ['redemptions:write'], name });
      return { id: client.id, token: await app().tokenFor(client.id, client.client_secret) };
    },
    bind: (
      token: string,
      card: CardWithSecret,
      holder: string,
      { pin = card.pin, ip }: { pin?: string; ip?: string } = {},
    ) =>
      post(token, '/v1/redemptions/bind', {
        code: card.code,
        pin,
        holder_ref: holder,
        reference: nextRef(),
        ...endUser(ip),
      }),
    debit: (
      token: string,
      card: CardWithSecret,
      holder: string,
      { amount = 100, ip }: { amount?: number; ip?: string } = {},
    ) =>
      post(token, '/v1/redemptions/debit', {
        serial: card.serial,
        holder_ref: holder,
        amount,
        reference: nextRef(),
        ...endUser(ip),
      }),
    /** Without a serial: the holder's active cards, soonest expiry first. */
    holderDebit: (token: string, holder: string, amount: number, { ip }: { ip?: string } = {}) =>
      post(token, '/v1/redemptions/debit', { holder_ref: holder, amount, reference: nextRef(), ...endUser(ip) }),
    setRules: (body: object) => app().http.put('/v1/admin/risk-rules').auth(operator(), { type: 'bearer' }).send(body),
    alerts: async (query: Record<string, string>): Promise<RiskAlert[]> =>
      (await app().http.get('/v1/admin/risk/alerts').query(query).auth(operator(), { type: 'bearer' }).expect(200)).body
        .data as RiskAlert[],
    /** The card's status as stored. */
    status: async (serial: string) =>
      (
        await app().dataSource.query<Array<{ status: string }>>('SELECT status FROM cards WHERE serial = $1', [serial])
      )[0].status,
  };
}
