import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued } from './support/cards';
import {
  createProduct,
  enterpriseWithClient,
  recordTransfer,
  redemptionChannel,
  TEST_PURCHASER,
} from './support/fixtures';
import { binaryBody } from './support/http-body';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

async function sheetRows(body: Buffer): Promise<unknown[][]> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(body as unknown as ArrayBuffer);
  const rows: unknown[][] = [];
  workbook.worksheets[0].eachRow((row) => rows.push((row.values as unknown[]).slice(1)));
  return rows;
}

type Report = {
  date: string;
  card_float: { opening: number; closing: number; change: number };
  issued: number;
  redeemed: {
    debited: number;
    reversed: number;
    net: number;
    unattributed: number;
    channels: Array<{
      channel_id: string;
      channel_name: string | null;
      debits: number;
      debited: number;
      reversals: number;
      reversed: number;
      net: number;
    }>;
  };
  breakage: number;
  refunds: { orders: number; voided_cards: number; card_holders: number };
  ledger: Array<{ kind: string; account: string; entries: number; amount: number }>;
};

/**
 * The operator's daily report on a database of its own (its figures are platform-wide: no other test file may book
 * in it): a real history through the API, then every figure against the history and against the ledger's own sums.
 */
describe('operator daily reports', () => {
  let database: ScratchDatabase;
  let app: TestApp;
  let operator: string;
  let channels: Array<{ id: string; token: string }>;
  let report: Report;
  const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
  let refNo = 0;
  const ref = (prefix: string) => `${prefix}-${refNo++}`;

  const admin = (path: string) => app.http.get(path).auth(operator, { type: 'bearer' });

  beforeAll(async () => {
    database = await createScratchDatabase('operator_reports');
    app = await startTestApp({ DATABASE_URL: database.url, ISSUANCE_DELAY_SECONDS: '0' });
    operator = await app.operatorToken();
    // Registered cards (bound, refundable) never expire; anonymous ones do.
    const registered = (await createProduct(app, { card_type: 'registered', validity_months: null })).id;
    const anonymous = (await createProduct(app)).id;
    channels = [];
    // The second channel's name would be a formula in a spreadsheet: the files must guard it.
    for (const name of ['Channel One', '=HYPERLINK("x")']) channels.push(await redemptionChannel(app, name));
    const f = await enterpriseWithClient(app, ['orders:read', 'orders:write', 'orders:approve', 'cards:write']);
    await recordTransfer(app, operator, {
      enterprise_id: f.enterprise.id,
      payer_account_name: f.enterprise.name,
      amount: 100_000,
      bank_reference: ref('DEP'),
    }).expect(201);
    const placed = await app.http
      .post('/v1/orders')
      .auth(f.token, { type: 'bearer' })
      .send({
        po_number: ref('PO'),
        payment_method: 'prepaid_balance',
        purchaser: TEST_PURCHASER,
        lines: [
          { product_id: registered, face_value: 10_000, quantity: 2 },
          { product_id: anonymous, face_value: 10_000, quantity: 2 },
        ],
      })
      .expect(201);
    await app.http.post(`/v1/orders/${placed.body.id}/pay`).auth(f.token, { type: 'bearer' }).expect(200);
    await waitForIssued(app, placed.body.id as string);
    const cards = await cardsWithSecrets(app, placed.body.id as string);
    const [a, b] = cards.filter((card) => card.cardType === 'registered');
    const [c, d] = cards.filter((card) => card.cardType === 'anonymous');
    const holderIdentity = { name: TEST_PURCHASER.name, id_type: 'resident_id', id_number: TEST_PURCHASER.id_number };
    const redeem = (channel: number, path: string, body: object) =>
      app.http.post(`/v1/redemptions${path}`).auth(channels[channel].token, { type: 'bearer' }).send(body);
    // Channel one: debits 3,000 and 1,000, then gives 400 of the second back (net 3,600).
    await redeem(0, '/bind', {
      code: a.code,
      pin: a.pin,
      holder_ref: 'ann',
      reference: ref('bind'),
      holder_identity: holderIdentity,
    }).expect(200);
    await redeem(0, '/debit', { serial: a.serial, holder_ref: 'ann', amount: 3_000, reference: ref('d') }).expect(200);
    const second = await redeem(0, '/debit', {
      serial: a.serial,
      holder_ref: 'ann',
      amount: 1_000,
      reference: ref('d'),
    });
    expect(second.status).toBe(200);
    await redeem(0, `/${second.body.id}/reverse`, { amount: 400, reference: '=SUM(A1)' }).expect(200);
    // Channel two: debits 2,500; the operator then refunds the card's 7,500 to its holder (赎回).
    await redeem(1, '/bind', {
      code: b.code,
      pin: b.pin,
      holder_ref: 'bob',
      reference: ref('bind'),
      holder_identity: holderIdentity,
    }).expect(200);
    await redeem(1, '/debit', { serial: b.serial, holder_ref: 'bob', amount: 2_500, reference: ref('d') }).expect(200);
    await app.http
      .post(`/v1/admin/cards/${b.serial}/refund`)
      .auth(operator, { type: 'bearer' })
      .set('Idempotency-Key', ref('refund'))
      .send({})
      .expect(200);
    // Card c is voided by its enterprise (10,000 back to prepaid); card d expires (10,000 of breakage).
    await app.http
      .post('/v1/cards/void')
      .auth(f.token, { type: 'bearer' })
      .send({ serials: [c.serial] })
      .expect(200);
    await app.dataSource.query("UPDATE cards SET expires_at = now() - interval '1 minute' WHERE serial = $1", [
      d.serial,
    ]);
    await app.http.post('/v1/admin/cards/expire-due').auth(operator, { type: 'bearer' }).expect(200);
    report = (await admin(`/v1/admin/reports/daily?date=${today}`).expect(200)).body as Report;
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('gives the day of the history: float, issued, redeemed per channel, breakage, refunds', () => {
    expect(report.card_float).toEqual({ opening: 0, closing: 6_400, change: 6_400 });
    expect(report.issued).toBe(40_000);
    expect(report.redeemed).toMatchObject({ debited: 6_500, reversed: 400, net: 6_100, unattributed: 0 });
    expect(report.redeemed.channels).toEqual(
      expect.arrayContaining([
        {
          channel_id: channels[0].id,
          channel_name: 'Channel One',
          debits: 2,
          debited: 4_000,
          reversals: 1,
          reversed: 400,
          net: 3_600,
        },
        {
          channel_id: channels[1].id,
          channel_name: '=HYPERLINK("x")',
          debits: 1,
          debited: 2_500,
          reversals: 0,
          reversed: 0,
          net: 2_500,
        },
      ]),
    );
    expect(report.breakage).toBe(10_000);
    expect(report.refunds).toEqual({ orders: 0, voided_cards: 10_000, card_holders: 7_500 });
  });

  it("ties to the ledger's own sums and to the cards' balances", async () => {
    const byAccount = await app.dataSource.query<Array<{ account: string; total: string }>>(
      'SELECT account, SUM(amount)::text AS total FROM ledger_lines GROUP BY account',
    );
    const reported = new Map<string, number>();
    for (const row of report.ledger) reported.set(row.account, (reported.get(row.account) ?? 0) + row.amount);
    expect(Object.fromEntries(reported)).toEqual(
      Object.fromEntries(byAccount.map((row) => [row.account, Number(row.total)])),
    );
    const [{ entries }] = await app.dataSource.query<Array<{ entries: string }>>(
      'SELECT COUNT(*)::text AS entries FROM ledger_entries',
    );
    const kinds = new Map(report.ledger.map((row) => [row.kind, row.entries]));
    expect([...kinds.values()].reduce((sum, n) => sum + n, 0)).toBe(Number(entries));
    const [{ float }] = await app.dataSource.query<Array<{ float: string }>>(
      'SELECT COALESCE(SUM(balance), 0)::text AS float FROM cards',
    );
    expect(report.card_float.closing).toBe(Number(float));
    const ledgerPage = await admin('/v1/admin/ledger/verify').expect(200);
    expect(ledgerPage.body.violation ?? null).toBeNull();
  });

  it('chains: the day before is empty and closes where today opens', async () => {
    const before = new Date(new Date(`${today}T00:00:00+08:00`).getTime() - 86_400_000 + 8 * 3_600_000)
      .toISOString()
      .slice(0, 10);
    const previous = (await admin(`/v1/admin/reports/daily?date=${before}`).expect(200)).body as Report;
    expect(previous.card_float.closing).toBe(report.card_float.opening);
    expect(previous).toMatchObject({ issued: 0, breakage: 0, ledger: [], redeemed: { net: 0, channels: [] } });
  });

  it('reads back the same figures from CSV and XLSX', async () => {
    const csv = await admin(`/v1/admin/reports/daily?date=${today}&format=csv`).expect(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.text.startsWith('\uFEFF')).toBe(true);
    const rows = parse<Record<string, string>>(csv.text.slice(1), { columns: true });
    const figure = (section: string, name: string) => rows.find((r) => r.section === section && r.name === name);
    expect(figure('card_float', 'closing')?.amount).toBe('64.00');
    expect(figure('issued', 'issued')?.amount).toBe('400.00');
    expect(figure('redeemed', 'net')?.amount).toBe('61.00');
    expect(figure('breakage', 'breakage')?.amount).toBe('100.00');
    expect(figure('refunds', 'card_holders')?.amount).toBe('75.00');
    expect(figure('channel_net', channels[1].id)).toMatchObject({ detail: `'=HYPERLINK("x")`, amount: '25.00' });
    for (const movement of report.ledger) {
      expect(
        rows.find((r) => r.section === 'ledger' && r.name === movement.kind && r.detail === movement.account),
      ).toMatchObject({ count: String(movement.entries), amount: (movement.amount / 100).toFixed(2) });
    }

    const xlsx = await admin(`/v1/admin/reports/daily?date=${today}`)
      .set('accept', XLSX)
      .buffer(true)
      .parse(binaryBody);
    expect(xlsx.status).toBe(200);
    const sheet = await sheetRows(xlsx.body as Buffer);
    expect(sheet[0]).toEqual(['section', 'name', 'detail', 'count', 'amount']);
    expect(sheet.length - 1).toBe(rows.length);
    sheet.slice(1).forEach((row, i) => {
      expect(row[0]).toBe(rows[i].section);
      expect(row[1]).toBe(rows[i].name);
      expect(Math.round((row[4] as number) * 100)).toBe(Math.round(Number(rows[i].amount) * 100));
    });
  });

  it("gives each channel's settlement file, summing to its net", async () => {
    const csv = await admin(`/v1/admin/reports/daily/channels/${channels[0].id}?date=${today}`).expect(200);
    const rows = parse<Record<string, string>>(csv.text.slice(1), { columns: true });
    expect(rows.map((r) => [r.kind, r.amount])).toEqual([
      ['debit', '30.00'],
      ['debit', '10.00'],
      ['reverse', '-4.00'],
      ['', '36.00'],
    ]);
    expect(rows[2].reference).toBe("'=SUM(A1)");
    expect(rows[3].occurred_at).toBe('total');

    const xlsx = await admin(`/v1/admin/reports/daily/channels/${channels[0].id}?date=${today}&format=xlsx`)
      .buffer(true)
      .parse(binaryBody);
    expect(xlsx.status).toBe(200);
    const sheet = await sheetRows(xlsx.body as Buffer);
    expect(sheet.slice(1).map((row) => row[6])).toEqual([30, 10, -4, 36]);
    expect(sheet[3][3]).toBe('=SUM(A1)');
  });

  it('refuses bad input with its code, and enterprise callers', async () => {
    expect((await admin('/v1/admin/reports/daily?date=2026-02-30').expect(400)).body.code).toBe('invalid_date');
    expect((await admin('/v1/admin/reports/daily?date=yesterday').expect(400)).body.code).toBe('validation_failed');
    expect((await admin('/v1/admin/reports/daily').expect(400)).body.code).toBe('validation_failed');
    expect((await admin(`/v1/admin/reports/daily?date=${today}&format=pdf`).expect(400)).body.code).toBe(
      'validation_failed',
    );
    expect((await admin(`/v1/admin/reports/daily/channels/cli_nope?date=${today}`).expect(404)).body.code).toBe(
      'resource_not_found',
    );
    const f = await enterpriseWithClient(app, ['reconciliation:read']);
    await app.http.get(`/v1/admin/reports/daily?date=${today}`).auth(f.token, { type: 'bearer' }).expect(403);
  });
});
