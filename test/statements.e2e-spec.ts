import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import fc from 'fast-check';
import { RequestContext } from '../src/common/context/request-context';
import { ReconciliationDailyService } from '../src/reconciliation/reconciliation-daily.service';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued } from './support/cards';
import { createClient, createProduct, enterpriseWithClient, recordTransfer } from './support/fixtures';
import { binaryBody } from './support/http-body';

type Balances = { prepaid_balance: number; credit_used: number; held_for_orders: number; card_float: number };
const KEYS = ['prepaid_balance', 'credit_used', 'held_for_orders', 'card_float'] as const;
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

describe('statements and redemption summaries', () => {
  let app: TestApp;
  let operator: string;
  let productId: string;
  let channel: string;
  let refNo = 0;
  const ref = (prefix: string) => `${prefix}-${Date.now()}-${refNo++}`;

  beforeAll(async () => {
    app = await startTestApp({ ISSUANCE_DELAY_SECONDS: '0', RATE_LIMIT_REQUESTS: '100000' });
    operator = await app.operatorToken();
    productId = (await createProduct(app, { face_values: [10_000, 20_000] })).id;
    const client = await createClient(app, { scopes: ['redemptions:write'], name: 'statement channel' });
    channel = await app.tokenFor(client.id, client.client_secret);
  });
  afterAll(async () => {
    await app?.close();
  });

  async function finance() {
    const setup = await enterpriseWithClient(app, [
      'orders:read',
      'orders:write',
      'orders:approve',
      'cards:read',
      'cards:write',
      'reconciliation:read',
      'events:read',
    ]);
    return { ...setup, get: (path: string) => app.http.get(path).auth(setup.token, { type: 'bearer' }) };
  }
  type Finance = Awaited<ReturnType<typeof finance>>;

  async function deposit(f: Finance, amount: number, bankReference = ref('DEP')) {
    await recordTransfer(app, operator, {
      enterprise_id: f.enterprise.id,
      payer_account_name: f.enterprise.name,
      amount,
      bank_reference: bankReference,
    }).expect(201);
  }

  /** A prepaid order of `quantity` cards of `face`, paid and issued; its id and its cards with their secrets. */
  async function issuedOrder(f: Finance, quantity: number, face = 10_000, poNumber = ref('PO')) {
    const placed = await app.http
      .post('/v1/orders')
      .auth(f.token, { type: 'bearer' })
      .send({
        po_number: poNumber,
        payment_method: 'prepaid_balance',
        lines: [{ product_id: productId, face_value: face, quantity }],
      })
      .expect(201);
    await app.http.post(`/v1/orders/${placed.body.id}/pay`).auth(f.token, { type: 'bearer' }).expect(200);
    await waitForIssued(app, placed.body.id as string);
    return { id: placed.body.id as string, cards: await cardsWithSecrets(app, placed.body.id as string) };
  }

  const redeem = (path: string, body: object) =>
    app.http.post(`/v1/redemptions${path}`).auth(channel, { type: 'bearer' }).send(body);

  async function spend(card: { serial: string; code: string; pin: string }, amount: number): Promise<string> {
    const holder = `h-${card.serial}`;
    await redeem('/bind', { code: card.code, pin: card.pin, holder_ref: holder, reference: ref('bind') });
    const debit = await redeem('/debit', { serial: card.serial, holder_ref: holder, amount, reference: ref('debit') });
    expect(debit.status).toBe(200);
    return debit.body.id as string;
  }

  const statement = async (f: Finance, from: string, to: string) =>
    (await f.get(`/v1/statements?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`).expect(200)).body as {
      opening: Balances;
      closing: Balances;
      total_movements: Balances;
      movements: Array<Balances & { kind: string }>;
    };

  /** Every line of a period, page by page. */
  async function allLines(f: Finance, from: string, to: string) {
    const lines: Array<Balances & Record<string, unknown>> = [];
    let cursor: string | null = null;
    do {
      const page = await f
        .get(
          `/v1/statements/lines?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=7${cursor ? `&starting_after=${cursor}` : ''}`,
        )
        .expect(200);
      lines.push(...(page.body.data as typeof lines));
      cursor = page.body.next_cursor as string | null;
    } while (cursor);
    return lines;
  }

  /** What the ledger says the enterprise's entries in [from, to) moved, per kind and position (the operator's view). */
  async function ledgerMovements(enterpriseId: string, from: Date, to: Date): Promise<Map<string, Balances>> {
    const byKind = new Map<string, Balances>();
    let cursor: string | null = null;
    do {
      const page = await app.http
        .get(
          `/v1/admin/ledger/entries?enterprise_id=${enterpriseId}&limit=100${cursor ? `&starting_after=${cursor}` : ''}`,
        )
        .auth(operator, { type: 'bearer' })
        .expect(200);
      for (const entry of page.body.data as Array<{
        kind: string;
        created_at: string;
        lines: Array<{ account: string; amount: number; enterprise_id: string | null }>;
      }>) {
        const at = new Date(entry.created_at).getTime();
        if (at < from.getTime() || at >= to.getTime()) continue;
        const sums = byKind.get(entry.kind) ?? {
          prepaid_balance: 0,
          credit_used: 0,
          held_for_orders: 0,
          card_float: 0,
        };
        for (const line of entry.lines) {
          const amount = Number(line.amount);
          if (line.account === 'prepaid') sums.prepaid_balance -= amount;
          if (line.account === 'receivable') sums.credit_used += amount;
          if (line.account === 'order_deposits') sums.held_for_orders -= amount;
          if (line.account === 'card_float') sums.card_float -= amount;
        }
        byKind.set(entry.kind, sums);
      }
      cursor = page.body.next_cursor as string | null;
    } while (cursor);
    return byKind;
  }

  const sumOf = (rows: Balances[]) =>
    Object.fromEntries(KEYS.map((key) => [key, rows.reduce((sum, row) => sum + row[key], 0) || 0])) as Balances;

  it('property: random histories tie out to the ledger, and day by day statements chain', async () => {
    type Step =
      | { kind: 'deposit'; amount: number }
      | { kind: 'order'; quantity: number }
      | { kind: 'debit'; pick: number; amount: number }
      | { kind: 'reverse' }
      | { kind: 'void'; pick: number }
      | { kind: 'expire'; pick: number }
      | { kind: 'boundary' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('deposit' as const), amount: fc.integer({ min: 1, max: 50_000 }) }),
      fc.record({ kind: fc.constant('order' as const), quantity: fc.integer({ min: 1, max: 2 }) }),
      fc.record({ kind: fc.constant('debit' as const), pick: fc.nat(), amount: fc.integer({ min: 1, max: 10_000 }) }),
      fc.record({ kind: fc.constant('reverse' as const) }),
      fc.record({ kind: fc.constant('void' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('expire' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('boundary' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 8 }), async (steps) => {
        const f = await finance();
        const start = new Date();
        await deposit(f, 50_000);
        const unused: Array<{ serial: string; code: string; pin: string }> = [];
        const debits: string[] = [];
        const boundaries: Date[] = [];
        for (const s of steps) {
          if (s.kind === 'deposit') await deposit(f, s.amount);
          else if (s.kind === 'order') {
            const balance = (await f.get('/v1/balance').expect(200)).body as { prepaid_balance: number };
            if (balance.prepaid_balance < 10_000 * s.quantity) await deposit(f, 10_000 * s.quantity);
            unused.push(...(await issuedOrder(f, s.quantity)).cards);
          } else if (s.kind === 'debit' && unused.length > 0) {
            const [card] = unused.splice(s.pick % unused.length, 1);
            debits.push(await spend(card, s.amount));
          } else if (s.kind === 'reverse' && debits.length > 0) {
            await redeem(`/${debits.pop()}/reverse`, { reference: ref('rev') }).expect(200);
          } else if (s.kind === 'void' && unused.length > 0) {
            const [card] = unused.splice(s.pick % unused.length, 1);
            await app.http
              .post('/v1/cards/void')
              .auth(f.token, { type: 'bearer' })
              .send({ serials: [card.serial] })
              .expect(200);
          } else if (s.kind === 'expire' && unused.length > 0) {
            // Its expiry passes (the clock is the database's); the operator's run books it as breakage.
            const [card] = unused.splice(s.pick % unused.length, 1);
            await app.dataSource.query("UPDATE cards SET expires_at = now() - interval '1 minute' WHERE serial = $1", [
              card.serial,
            ]);
            await app.http.post('/v1/admin/cards/expire-due').auth(operator, { type: 'bearer' }).expect(200);
          } else if (s.kind === 'boundary') {
            await new Promise((resolve) => setTimeout(resolve, 5));
            boundaries.push(new Date());
          }
        }
        const end = new Date(Date.now() + 1);
        const cuts = [start, ...boundaries, end];
        // Each period's identity and ledger agreement, and each closing is the next opening.
        let previous: Balances | null = null;
        for (let i = 0; i + 1 < cuts.length; i++) {
          const [from, to] = [cuts[i], cuts[i + 1]];
          const s = await statement(f, from.toISOString(), to.toISOString());
          if (previous) expect(s.opening).toEqual(previous);
          else expect(s.opening).toEqual({ prepaid_balance: 0, credit_used: 0, held_for_orders: 0, card_float: 0 });
          for (const key of KEYS) expect(s.opening[key] + s.total_movements[key]).toBe(s.closing[key]);
          expect(sumOf(s.movements)).toEqual(s.total_movements);
          const ledger = await ledgerMovements(f.enterprise.id, from, to);
          expect(
            Object.fromEntries(
              s.movements.map(({ kind, ...figures }) => [
                kind,
                (({ entries: _e, ...rest }) => rest)(figures as Balances & { entries: number }),
              ]),
            ),
          ).toEqual(Object.fromEntries(ledger));
          expect(sumOf(await allLines(f, from.toISOString(), to.toISOString()))).toEqual(s.total_movements);
          previous = s.closing;
        }
        // The last closing is what /v1/balance and the cards say now.
        const balance = (await f.get('/v1/balance').expect(200)).body as Balances;
        expect(previous).toMatchObject({
          prepaid_balance: balance.prepaid_balance,
          credit_used: balance.credit_used,
          held_for_orders: balance.held_for_orders,
        });
        const whole = await statement(f, start.toISOString(), end.toISOString());
        expect(whole.closing).toEqual(previous);
        const [{ float }] = await app.dataSource.query<Array<{ float: string }>>(
          'SELECT COALESCE(SUM(balance), 0)::text AS float FROM cards WHERE enterprise_id = $1',
          [f.enterprise.id],
        );
        expect(whole.closing.card_float).toBe(Number(float));
      }),
      { numRuns: 3 },
    );
  }, 240_000);

  describe('files', () => {
    let f: Finance;
    let json: { total_movements: Balances; closing: Balances };
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);

    beforeAll(async () => {
      f = await finance();
      // Markup and a backslash: the XLSX's sheet XML (written by the database) must carry them as text.
      await deposit(f, 123_456, '福利工资-一月 =SUM(A1) <b>&amp; \\x');
      const order = await issuedOrder(f, 2, 10_000, '=HYPERLINK("x")');
      await spend(order.cards[0], 1_234);
      json = await statement(f, today, today);
    });

    it('CSV: UTF-8 with BOM, Chinese intact, formulas escaped, lines adding up to the JSON figures', async () => {
      const response = await f
        .get(`/v1/statements?from=${today}&to=${today}&format=csv`)
        .buffer(true)
        .parse(binaryBody)
        .expect(200);
      expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
      const body = response.body as Buffer;
      expect(body.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
      const text = body.toString('utf8').slice(1);
      expect(text).toContain('Bank transfer 福利工资-一月 =SUM(A1)');
      const rows = parse<Record<string, string>>(text, { columns: true });
      const totals = rows.pop()!;
      expect(totals.occurred_at).toBe('total');
      const paid = rows.find((row) => row.kind === 'order_payment')!;
      expect(paid.po_number).toBe(`'=HYPERLINK("x")`);
      for (const key of KEYS) {
        const sum = rows.reduce((acc, row) => acc + Math.round(Number(row[key]) * 100), 0);
        expect(sum).toBe(json.total_movements[key]);
        expect(Math.round(Number(totals[key]) * 100)).toBe(json.total_movements[key]);
      }
      expect(rows.filter((row) => row.kind === 'debit')).toEqual([expect.objectContaining({ card_float: '-12.34' })]);
    });

    it('XLSX (by Accept) read back with exceljs: the same numbers as JSON, a frozen header and a totals row', async () => {
      const response = await f
        .get(`/v1/statements?from=${today}&to=${today}`)
        .set('accept', XLSX)
        .buffer(true)
        .parse(binaryBody)
        .expect(200);
      expect(response.headers['content-type']).toBe(XLSX);
      const workbook = new ExcelJS.Workbook();
      await workbook.xlsx.load(response.body as ArrayBuffer);
      const sheet = workbook.getWorksheet('statement')!;
      expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
      const header = (sheet.getRow(1).values as unknown[]).slice(1);
      const rows: unknown[][] = [];
      sheet.eachRow((row, index) => {
        if (index > 1) rows.push((row.values as unknown[]).slice(1));
      });
      const totals = rows.pop()!;
      expect(totals[0]).toBe('total');
      for (const key of KEYS) {
        const column = header.indexOf(key);
        expect(rows.reduce((acc: number, row) => acc + Math.round(Number(row[column]) * 100), 0)).toBe(
          json.total_movements[key],
        );
        expect(Math.round((totals[column] as number) * 100)).toBe(json.total_movements[key]);
      }
      expect(rows.find((row) => row[header.indexOf('kind')] === 'order_payment')?.[header.indexOf('po_number')]).toBe(
        '=HYPERLINK("x")',
      );
      expect(rows[0][0]).toBeInstanceOf(Date);
      expect(rows.find((row) => row[header.indexOf('kind')] === 'deposit')?.[header.indexOf('memo')]).toContain(
        '福利工资-一月 =SUM(A1) <b>&amp; \\x',
      );
    });

    it('redemption summary of an order and of a period: cards by status with their amounts', async () => {
      const order = await issuedOrder(f, 3);
      await spend(order.cards[0], 2_500);
      const [, second] = order.cards;
      await app.http
        .post('/v1/cards/void')
        .auth(f.token, { type: 'bearer' })
        .send({ serials: [second.serial] })
        .expect(200);
      const summary = await f.get(`/v1/orders/${order.id}/redemption-summary`).expect(200);
      expect(summary.body.by_status).toEqual([
        {
          status: 'issued',
          cards: 1,
          face_value: 10_000,
          spent: 0,
          remaining: 10_000,
          breakage: 0,
          returned: 0,
          moved: 0,
        },
        {
          status: 'partly_spent',
          cards: 1,
          face_value: 10_000,
          spent: 2_500,
          remaining: 7_500,
          breakage: 0,
          returned: 0,
          moved: 0,
        },
        {
          status: 'voided',
          cards: 1,
          face_value: 10_000,
          spent: 0,
          remaining: 0,
          breakage: 0,
          returned: 10_000,
          moved: 0,
        },
      ]);
      expect(summary.body.total).toMatchObject({ cards: 3, face_value: 30_000, spent: 2_500, remaining: 17_500 });
      const period = await f.get(`/v1/redemption-summary?from=${today}&to=${today}`).expect(200);
      expect(period.body.order_ids).toContain(order.id);
      expect(period.body.total.cards).toBe(5);
    });

    it("sends reconciliation.daily once per enterprise and day, with that day's statement", async () => {
      const daily = app.app.get(ReconciliationDailyService);
      expect(await daily.sendDay(RequestContext.system(), today)).toBeGreaterThanOrEqual(1);
      await daily.sendDay(RequestContext.system(), today);
      const events = await f.get('/v1/events?type=reconciliation.daily').expect(200);
      expect(events.body.data).toHaveLength(1);
      const statement = await f.get(`/v1/statements?from=${today}&to=${today}`).expect(200);
      const { object: _object, ...figures } = statement.body as Record<string, unknown>;
      expect(events.body.data[0].data).toMatchObject({ day: today, ...figures });
    });

    it('keeps tenants apart', async () => {
      const other = await finance();
      const theirs = await statement(other, today, today);
      expect(theirs.movements).toEqual([]);
      expect(theirs.closing).toEqual({ prepaid_balance: 0, credit_used: 0, held_for_orders: 0, card_float: 0 });
      expect((await allLines(other, today, today)).length).toBe(0);
      const csv = await other.get(`/v1/statements?from=${today}&to=${today}&format=csv`).expect(200);
      expect(csv.text.trim().split('\n')).toHaveLength(2);
      const mine = await f.get('/v1/orders?limit=1').expect(200);
      const response = await other.get(`/v1/orders/${mine.body.data[0].id}/redemption-summary`).expect(404);
      expect(response.body.code).toBe('resource_not_found');
    });

    it('refuses bad input with its code', async () => {
      const code = async (path: string, status: number, accept?: string) => {
        const request = f.get(path);
        if (accept) request.set('accept', accept);
        const response = await request.expect(status);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        return response.body.code as string;
      };
      expect(await code('/v1/statements?from=2026-13-01&to=2026-12-31', 400)).toBe('invalid_date');
      expect(await code('/v1/statements?from=2026-02-30&to=2026-03-01', 400)).toBe('invalid_date');
      expect(await code('/v1/statements?from=2026-12-01T00:00:00&to=2026-12-31', 400)).toBe('invalid_date');
      expect(await code('/v1/statements?from=2026-12-31&to=2026-12-01', 400)).toBe('invalid_period');
      expect(await code('/v1/statements?from=2026-12-01', 400)).toBe('validation_failed');
      expect(await code('/v1/statements?from=2026-12-01&to=2026-12-31&format=pdf', 400)).toBe('validation_failed');
      expect(await code('/v1/statements?from=2026-12-01&to=2026-12-31', 406, 'application/pdf')).toBe('not_acceptable');
      expect(await code('/v1/statements/lines?from=2026-12-01&to=2026-12-31&starting_after=bm9wZQ', 400)).toBe(
        'invalid_cursor',
      );
      expect(await code('/v1/redemption-summary?from=2026-12-31&to=2026-12-01', 400)).toBe('invalid_period');
      const hr = await createClient(app, { enterprise_id: f.enterprise.id, scopes: ['orders:read'] });
      const token = await app.tokenFor(hr.id, hr.client_secret);
      const refused = await app.http
        .get(`/v1/statements?from=${today}&to=${today}`)
        .auth(token, { type: 'bearer' })
        .expect(403);
      expect(refused.body.code).toBe('insufficient_scope');
    });
  });
});
