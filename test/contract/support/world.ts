import { generateKey } from 'openpgp';
import type { Test } from 'supertest';
import { OPERATOR_SCOPES, SCOPES, type Scope } from '../../../src/common/access/scopes';
import { newId } from '../../../src/common/ids';
import { startTestApp, type TestApp } from '../../support/app';
import { cardsWithSecrets, waitForIssued, type CardWithSecret } from '../../support/cards';
import { confirmedExportKey } from '../../support/export-keys';
import { insertClaimRecipient } from '../../support/claims';
import {
  createClient,
  createEnterprise,
  createProduct,
  newCreditCode,
  recordTransfer,
  TEST_PURCHASER,
  type ProductFixture,
} from '../../support/fixtures';
import { createScratchDatabase, type ScratchDatabase } from '../../support/scratch-database';
import { fillPath, type Operation } from './openapi';

/** Every scope an enterprise client may hold: the tenants' clients hold them all, so only tenancy refuses. */
const ENTERPRISE_SCOPES: Scope[] = SCOPES.filter((scope) => !OPERATOR_SCOPES.includes(scope));
/** Orders above this payable wait for approval (101 cards of 100 CNY do, one does not). */
const APPROVAL_THRESHOLD = 1_000_000;
/** The shared secret of the SMS receipt callback (SMS_RECEIPT_TOKEN). */
export const CONTRACT_SMS_RECEIPT_TOKEN = 'contract-receipt-token-0123456789';
const FACE = 10_000;

/** One request to an operation: who sends it and with what. `token: null` sends none. */
export interface Call {
  token: string | null;
  params?: Record<string, string>;
  /** An array repeats the parameter. */
  query?: Record<string, string | string[]>;
  body?: unknown;
  /** Send the body form-encoded (the token endpoint). */
  form?: boolean;
  /** The tenant whose ids the call uses (for the isolation suite). */
  tenant?: Tenant;
  /** A file as the body, with its content type (recipient uploads). */
  upload?: { type: string; payload: string };
}

export interface Tenant {
  id: string;
  name: string;
  clientId: string;
  clientSecret: string;
  /** Places orders; holds every enterprise scope. */
  hr: string;
  /** A second client (approves what hr placed); every enterprise scope too. */
  finance: string;
}

let sequence = 0;
const unique = (prefix: string) => `${prefix}-${Date.now()}-${sequence++}`;

/**
 * One app on a database of its own (its jobs, expiry runs and re-encryptions touch no other suite's data), with
 * an operator, a redemption channel, two tenants holding every enterprise scope, products, issued cards, an
 * event, a webhook endpoint, a ready export and a re-encryption run, from which `recipes` build a real request
 * for every operation.
 */
export class World {
  operator!: string;
  channel!: string;
  /** The redemption channel's client id (it takes distributed cards: a claim_bind_url). */
  channelId!: string;
  a!: Tenant;
  b!: Tenant;
  anonymous!: ProductFixture;
  registered!: ProductFixture;
  /** A's issued order and, from it, cards not yet used by any recipe. */
  order!: string;
  batch!: string;
  private anonymousCards: CardWithSecret[] = [];
  private registeredCards: CardWithSecret[] = [];
  /** A card of A's that recipes only read. */
  readCard!: string;
  event!: string;
  endpoint!: string;
  cardExport!: string;
  reencryption!: string;
  publicKey!: string;
  /** A's export key, registered by hr and confirmed by finance. */
  exportKey!: string;
  /** A's invoice of its issued order, rendered. */
  invoice!: string;

  private constructor(
    readonly app: TestApp,
    private readonly database: ScratchDatabase,
  ) {}

  static async start(name: string, cards = 40): Promise<World> {
    const database = await createScratchDatabase(name);
    let app: TestApp;
    try {
      app = await startTestApp({
        DATABASE_URL: database.url,
        RATE_LIMIT_REQUESTS: '1000000',
        REDEMPTION_CLIENT_FAILURE_LIMIT: '1000000',
        REDEMPTION_IP_FAILURE_LIMIT: '1000000',
        REDEMPTION_HOLDER_FAILURE_LIMIT: '1000000',
        WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
        // Deliveries to the closed port below fail at once; no retry within a suite's run.
        WEBHOOK_RETRY_SCHEDULE_MS: '0,3600000',
        SMS_RECEIPT_TOKEN: CONTRACT_SMS_RECEIPT_TOKEN,
      });
    } catch (error) {
      await database.drop();
      throw error;
    }
    const world = new World(app, database);
    await world.build(cards);
    return world;
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.database.drop();
  }

  private async build(cards: number): Promise<void> {
    this.operator = await this.app.operatorToken();
    const channel = await createClient(this.app, {
      scopes: ['redemptions:write'],
      name: 'contract channel',
      claim_bind_url: 'https://wallet.example/add-card',
    });
    this.channel = await this.app.tokenFor(channel.id, channel.client_secret);
    this.channelId = channel.id;
    this.anonymous = await createProduct(this.app);
    this.registered = await createProduct(this.app, { card_type: 'registered', validity_months: null });
    [this.a, this.b] = await Promise.all([this.tenant(), this.tenant()]);
    const key = await generateKey({ userIDs: [{ name: 'Contract', email: 'erp@example.com' }], format: 'object' });
    this.publicKey = key.publicKey.armor();
    this.exportKey = await confirmedExportKey(
      this.app,
      { registrar: this.a.hr, approver: this.a.finance },
      this.publicKey,
    );

    this.order = await this.paidOrder(this.a, [
      { product_id: this.anonymous.id, face_value: FACE, quantity: cards },
      { product_id: this.registered.id, face_value: FACE, quantity: cards },
    ]);
    await waitForIssued(this.app, this.order);
    const issued = await cardsWithSecrets(this.app, this.order);
    this.anonymousCards = issued.filter((card) => card.cardType === 'anonymous');
    this.registeredCards = issued.filter((card) => card.cardType === 'registered');
    this.readCard = this.takeAnonymous().serial;
    [{ id: this.batch }] = await this.app.dataSource.query<Array<{ id: string }>>(
      'SELECT id FROM issuance_batches WHERE order_id = $1 LIMIT 1',
      [this.order],
    );
    [{ id: this.event }] = await this.app.dataSource.query<Array<{ id: string }>>(
      'SELECT id FROM events WHERE enterprise_id = $1 ORDER BY id LIMIT 1',
      [this.a.id],
    );
    this.endpoint = await this.webhookEndpoint(this.a);
    this.cardExport = await this.readyExport(this.a, this.order);
    this.reencryption = await this.finishedReencryption();
    // Both tenants invoice on request, so that a refusal of B's request for A's orders is about tenancy alone.
    for (const tenant of [this.a, this.b]) {
      await this.app.http
        .put('/v1/invoice-profile')
        .auth(tenant.finance, { type: 'bearer' })
        .send(invoiceProfileBody(tenant))
        .expect(200);
    }
    this.invoice = await this.invoiceOf(this.a, this.order);
    await this.until(async () => {
      const got = await this.as(this.a.hr).get(`/v1/invoices/${this.invoice}`).expect(200);
      return (got.body as { documents: { status: string } }).documents.status === 'rendered';
    }, `invoice ${this.invoice} rendered`);
  }

  /** The id of a payment recorded for the tenant (its opening deposit). */
  async paymentOf(tenant: Tenant): Promise<string> {
    const [{ id }] = await this.app.dataSource.query<Array<{ id: string }>>(
      'SELECT id FROM payments WHERE enterprise_id = $1 ORDER BY id LIMIT 1',
      [tenant.id],
    );
    return id;
  }

  /** A blue invoice of the tenant's paid order (a fresh one unless given). */
  async invoiceOf(tenant: Tenant, order?: string): Promise<string> {
    const orderId =
      order ?? (await this.paidOrder(tenant, [{ product_id: this.anonymous.id, face_value: FACE, quantity: 1 }]));
    const created = await this.as(tenant.finance)
      .post('/v1/invoices', { order_ids: [orderId] })
      .expect(201);
    return (created.body as { id: string }).id;
  }

  /** Sends `call` to `operation`, with `headers`; `raw`, if given, is the body as sent; `rawPath`: see fillPath. */
  send(
    operation: Operation,
    call: Call,
    headers: Record<string, string> = {},
    raw?: { type: string; payload: string },
    rawPath = false,
  ): Test {
    let url = fillPath(operation, call.params, rawPath);
    if (call.query) {
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(call.query)) {
        for (const item of Array.isArray(value) ? value : [value]) query.append(name, item);
      }
      url += `?${query.toString()}`;
    }
    let request = this.app.http[operation.method](url).set(headers);
    if (call.token) request = request.auth(call.token, { type: 'bearer' });
    if (raw) return request.set('content-type', raw.type).send(raw.payload);
    if (call.upload) return request.set('content-type', call.upload.type).send(call.upload.payload);
    if (call.body === undefined) return request;
    return call.form ? request.type('form').send(call.body as object) : request.send(call.body as object);
  }

  as(token: string) {
    return {
      get: (path: string) => this.app.http.get(path).auth(token, { type: 'bearer' }),
      post: (path: string, body: object = {}) => this.app.http.post(path).auth(token, { type: 'bearer' }).send(body),
    };
  }

  /** A new enterprise (approval above 10,000 CNY, 500,000 CNY prepaid) with two clients holding every scope. */
  async tenant(): Promise<Tenant> {
    const enterprise = await createEnterprise(this.app, { approval_threshold: APPROVAL_THRESHOLD });
    const [hr, finance] = await Promise.all([
      createClient(this.app, { enterprise_id: enterprise.id, scopes: ENTERPRISE_SCOPES, name: 'hr' }),
      createClient(this.app, { enterprise_id: enterprise.id, scopes: ENTERPRISE_SCOPES, name: 'finance' }),
    ]);
    await recordTransfer(this.app, this.operator, {
      enterprise_id: enterprise.id,
      payer_account_name: enterprise.name,
      amount: 50_000_000,
    }).expect(201);
    return {
      id: enterprise.id,
      name: enterprise.name,
      clientId: hr.id,
      clientSecret: hr.client_secret,
      hr: await this.app.tokenFor(hr.id, hr.client_secret),
      finance: await this.app.tokenFor(finance.id, finance.client_secret),
    };
  }

  /** An order of `quantity` 100 CNY anonymous cards, placed by hr: pending payment, or approval above 100. */
  async placeOrder(tenant: Tenant, quantity = 1): Promise<string> {
    const placed = await this.as(tenant.hr)
      .post('/v1/orders', {
        po_number: unique('PO'),
        payment_method: 'prepaid_balance',
        purchaser: TEST_PURCHASER,
        lines: [{ product_id: this.anonymous.id, face_value: FACE, quantity }],
      })
      .expect(201);
    return (placed.body as { id: string }).id;
  }

  async paidOrder(tenant: Tenant, lines: Array<{ product_id: string; face_value: number; quantity: number }>) {
    const placed = await this.as(tenant.hr)
      .post('/v1/orders', {
        po_number: unique('PO'),
        payment_method: 'prepaid_balance',
        purchaser: TEST_PURCHASER,
        lines,
      })
      .expect(201);
    const id = (placed.body as { id: string }).id;
    await this.as(tenant.finance).post(`/v1/orders/${id}/pay`).expect(200);
    return id;
  }

  async issuedOrder(tenant: Tenant): Promise<string> {
    const id = await this.paidOrder(tenant, [{ product_id: this.anonymous.id, face_value: FACE, quantity: 1 }]);
    await waitForIssued(this.app, id);
    return id;
  }

  private distributionId: string | undefined;

  /** A distribution of A's (one card of a fresh issued order, channel link), made once. */
  async distribution(): Promise<string> {
    if (!this.distributionId) {
      const order = await this.issuedOrder(this.a);
      const created = await this.app.http
        .post('/v1/distributions')
        .auth(this.a.hr, { type: 'bearer' })
        .send({ order_id: order, recipients: [{ employee_ref: 'E1', channel: 'link', face_value: FACE }] })
        .expect(201);
      this.distributionId = (created.body as { id: string }).id;
    }
    return this.distributionId;
  }

  /** A recipient file of A's, uploaded now. */
  async distributionFile(): Promise<string> {
    const uploaded = await this.app.http
      .post('/v1/distribution-files?filename=staff.csv')
      .auth(this.a.hr, { type: 'bearer' })
      .set('content-type', 'text/csv')
      .send(DISTRIBUTION_CSV)
      .expect(201);
    return (uploaded.body as { id: string }).id;
  }

  /** An ERP reconciliation of A's (one row: its issued order, a deliberately wrong amount), uploaded now. */
  async reconciliation(): Promise<string> {
    const orderId = await this.issuedOrder(this.a);
    const uploaded = await this.app.http
      .post('/v1/reconciliations?filename=erp.csv')
      .auth(this.a.finance, { type: 'bearer' })
      .set('content-type', 'text/csv')
      .set('idempotency-key', `contract-reconciliation-${Date.now()}-${Math.random()}`)
      .send(reconciliationCsv(orderId))
      .expect(201);
    return (uploaded.body as { id: string }).id;
  }

  /** A statement run of A's (CSV of everything so far), created now and awaited until its file is built. */
  async statementRun(): Promise<string> {
    const created = await this.app.http
      .post('/v1/statement-runs')
      .auth(this.a.finance, { type: 'bearer' })
      .set('idempotency-key', `contract-statement-run-${Date.now()}-${Math.random()}`)
      .send({ from: '2020-01-01', to: '2099-12-31', format: 'csv' })
      .expect(202);
    const id = (created.body as { id: string }).id;
    for (let attempt = 0; attempt < 300; attempt++) {
      const run = await this.app.http.get(`/v1/statement-runs/${id}`).auth(this.a.finance, { type: 'bearer' });
      if ((run.body as { status: string }).status !== 'building') return id;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`statement run ${id} was not built in 30 s`);
  }

  takeAnonymous(): CardWithSecret {
    const card = this.anonymousCards.shift();
    if (!card) throw new Error('the contract world ran out of anonymous cards: raise `cards` in World.start');
    return card;
  }

  takeRegistered(): CardWithSecret {
    const card = this.registeredCards.shift();
    if (!card) throw new Error('the contract world ran out of registered cards: raise `cards` in World.start');
    return card;
  }

  async frozenCard(): Promise<string> {
    const { serial } = this.takeAnonymous();
    await this.as(this.a.hr).post(`/v1/cards/${serial}/freeze`).expect(200);
    return serial;
  }

  /** An anonymous card of A's that expired holding its value. */
  async expiredCard(): Promise<string> {
    const { serial } = this.takeAnonymous();
    await this.app.dataSource.query("UPDATE cards SET expires_at = now() - interval '1 minute' WHERE serial = $1", [
      serial,
    ]);
    await this.as(this.operator).post('/v1/admin/cards/expire-due').expect(200);
    return serial;
  }

  /** A card bound by the channel and debited 1 CNY: its holder and the debit's redemption id. */
  async debitedCard(): Promise<{ serial: string; holder: string; redemption: string }> {
    const card = this.takeAnonymous();
    const holder = unique('h');
    await this.as(this.channel)
      .post('/v1/redemptions/bind', { code: card.code, pin: card.pin, holder_ref: holder, reference: unique('b') })
      .expect(200);
    const debit = await this.as(this.channel)
      .post('/v1/redemptions/debit', { serial: card.serial, holder_ref: holder, amount: 100, reference: unique('d') })
      .expect(200);
    return { serial: card.serial, holder, redemption: (debit.body as { id: string }).id };
  }

  /**
   * An "add to my account" ticket for the channel: a card of A's distributed to an employee, whose claim page asked
   * for the ticket as the page's script does.
   */
  async claimTicket(): Promise<string> {
    const { token } = await insertClaimRecipient(this.app, {
      enterpriseId: this.a.id,
      orderId: this.order,
      card: this.takeAnonymous(),
    });
    const issued = await this.app.http
      .post(`/claim/${token}/bind-ticket`)
      .set('sec-fetch-site', 'same-origin')
      .send({ channel: this.channelId })
      .expect(200);
    return new URL((issued.body as { url: string }).url).searchParams.get('ticket')!;
  }

  /** An export key of A's that hr registered with a key of its own: pending until another client confirms it. */
  async pendingExportKey(): Promise<{ id: string; fingerprint: string }> {
    const key = await generateKey({ userIDs: [{ name: 'Contract', email: 'erp@example.com' }], format: 'object' });
    const registered = await this.as(this.a.hr)
      .post('/v1/export-keys', { public_key: key.publicKey.armor(), label: unique('key') })
      .expect(201);
    return registered.body as { id: string; fingerprint: string };
  }

  /** An export of a fresh issued order of A's that purges its anonymous codes: waiting for the second client. */
  async exportAwaitingPurgeConfirmation(): Promise<string> {
    const created = await this.as(this.a.hr)
      .post(`/v1/orders/${await this.issuedOrder(this.a)}/exports`, {
        export_key_id: this.exportKey,
        purge_anonymous_after_export: true,
      })
      .expect(202);
    return (created.body as { id: string }).id;
  }

  /**
   * A distribution of A's order with one recipient holding a fresh card, written as the creation part leaves it and
   * moved to `status` (delivered: sent to, resendable; scheduled: the distribution not started).
   */
  async distributionRecipient(
    status: 'delivered' | 'scheduled' = 'delivered',
  ): Promise<{ id: string; recipientId: string }> {
    const card = this.takeAnonymous();
    const [{ id }] = await this.app.dataSource.query<Array<{ id: string }>>(
      `INSERT INTO distributions (id, enterprise_id, order_id, status, send_at, recipient_count, created_by_client_id)
       VALUES ($4, $1, $2, $3, now() + interval '1 day', 1, $5) RETURNING id`,
      [this.a.id, this.order, status === 'scheduled' ? 'scheduled' : 'sending', newId('distribution'), this.a.clientId],
    );
    const [{ id: recipientId }] = await this.app.dataSource.query<Array<{ id: string }>>(
      `INSERT INTO distribution_recipients (id, distribution_id, enterprise_id, row_number, employee_ref, email, channel,
         design, face_value, card_serial, status, sent_at)
       VALUES ($5, $1, $2, 1, 'EMP-1', 'contract@example.com', 'email', 'classic', $3, $4, $6,
               CASE WHEN $6 = 'delivered' THEN now() END)
       RETURNING id`,
      [id, this.a.id, card.faceValue, card.serial, newId('distributionRecipient'), status],
    );
    return { id, recipientId };
  }

  async webhookEndpoint(tenant: Tenant): Promise<string> {
    const created = await this.as(tenant.hr)
      .post('/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/contract', event_types: ['*'] })
      .expect(201);
    return (created.body as { id: string }).id;
  }

  async freshClient(enterpriseId = this.a.id): Promise<string> {
    return (await createClient(this.app, { enterprise_id: enterpriseId, scopes: ['orders:read'] })).id;
  }

  private async readyExport(tenant: Tenant, order: string): Promise<string> {
    const created = await this.as(tenant.hr)
      .post(`/v1/orders/${order}/exports`, { export_key_id: this.exportKey })
      .expect(202);
    const id = (created.body as { id: string }).id;
    await this.until(async () => {
      const got = await this.as(tenant.hr).get(`/v1/exports/${id}`).expect(200);
      return (got.body as { status: string }).status === 'ready';
    }, `export ${id} ready`);
    return id;
  }

  /** A fresh one-time download token of the ready export. */
  async downloadToken(): Promise<string> {
    const got = await this.as(this.a.hr).get(`/v1/exports/${this.cardExport}`).expect(200);
    return (got.body as { download: { token: string } }).download.token;
  }

  async finishedReencryption(): Promise<string> {
    await this.reencryptionsSettled();
    const started = await this.as(this.operator).post('/v1/admin/keys/re-encryptions', {}).expect(202);
    await this.reencryptionsSettled();
    return (started.body as { id: string }).id;
  }

  /** No re-encryption run queued or running (one at a time is allowed). */
  async reencryptionsSettled(): Promise<void> {
    await this.until(async () => {
      const [{ n }] = await this.app.dataSource.query<Array<{ n: number }>>(
        "SELECT count(*)::int AS n FROM reencryption_runs WHERE status IN ('queued', 'running')",
      );
      return n === 0;
    }, 're-encryptions settled');
  }

  private async until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

type Recipe = (world: World) => Promise<Call>;

const DISTRIBUTION_CSV = `employee_ref,channel,face_value\nE1,link,${FACE}\n`;

const operator = (world: World, call: Omit<Call, 'token'> = {}): Call => ({ token: world.operator, ...call });
/** An ERP's records of one order (a CSV for POST /v1/reconciliations): an amount that differs from what was paid. */
const reconciliationCsv = (orderId: string) =>
  `order_id,amount_fen,date\n${orderId},1,${new Date().toISOString().slice(0, 10)}\n`;
const hr = (world: World, call: Omit<Call, 'token'> = {}): Call => ({ token: world.a.hr, tenant: world.a, ...call });
const finance = (world: World, call: Omit<Call, 'token'> = {}): Call => ({
  token: world.a.finance,
  tenant: world.a,
  ...call,
});
const channel = (world: World, call: Omit<Call, 'token'> = {}): Call => ({ token: world.channel, ...call });
const anonymousCard = (world: World) => ({ serial: world.takeAnonymous().serial });
const registeredCard = (world: World) => ({ serial: world.takeRegistered().serial });

/**
 * A real happy-path request for every operation in openapi/openapi.json, keyed by operationId; each call that
 * changes something gets resources of its own. An operation without a recipe fails the contract suites: add one
 * here when adding an endpoint.
 */
export const recipes: Record<string, Recipe> = {
  // Public.
  getJwks: async () => ({ token: null }),
  getLiveness: async () => ({ token: null }),
  getReadiness: async () => ({ token: null }),
  createToken: async (world) => ({
    token: null,
    form: true,
    body: { grant_type: 'client_credentials', client_id: world.a.clientId, client_secret: world.a.clientSecret },
  }),
  downloadCardExport: async (world) => ({
    token: null,
    params: { id: world.cardExport },
    query: { token: await world.downloadToken() },
  }),

  // Operator.
  listApiClients: async (world) => operator(world),
  createApiClient: async (world) =>
    operator(world, { body: { name: unique('client'), enterprise_id: world.a.id, scopes: ['orders:read'] } }),
  getApiClient: async (world) => operator(world, { params: { id: world.a.clientId } }),
  revokeApiClient: async (world) => operator(world, { params: { id: await world.freshClient() } }),
  rotateApiClientSecret: async (world) => operator(world, { params: { id: await world.freshClient() }, body: {} }),
  listAuditRecords: async (world) => operator(world),
  verifyAuditChain: async (world) => operator(world),
  // Its batch is issued, so this answers 409 invalid_state: a failed batch cannot be made on purpose here.
  retryBatch: async (world) => operator(world, { params: { id: world.batch } }),
  expireDueCards: async (world) => operator(world),
  adminVoidCards: async (world) => operator(world, { body: { serials: [world.takeAnonymous().serial] } }),
  adminFreezeCard: async (world) => operator(world, { params: anonymousCard(world), body: {} }),
  adminUnfreezeCard: async (world) => operator(world, { params: { serial: await world.frozenCard() }, body: {} }),
  reactivateCard: async (world) => operator(world, { params: { serial: await world.expiredCard() }, body: {} }),
  replaceExpiredCard: async (world) => operator(world, { params: { serial: await world.expiredCard() }, body: {} }),
  adminRefundCard: async (world) => operator(world, { params: registeredCard(world), body: {} }),
  adminReportCardLost: async (world) => operator(world, { params: registeredCard(world), body: {} }),
  adminListInvoices: async (world) => operator(world, { query: { enterprise_id: world.a.id } }),
  adminRerenderInvoice: async (world) => operator(world, { params: { id: world.invoice } }),
  adminVoidInvoice: async (world) =>
    operator(world, { params: { id: await world.invoiceOf(world.a) }, body: { reason: 'Issued in error' } }),
  listEnterprises: async (world) => operator(world),
  createEnterprise: async (world) =>
    operator(world, { body: { name: unique('Contract Co'), credit_code: newCreditCode() } }),
  getEnterprise: async (world) => operator(world, { params: { id: world.a.id } }),
  updateEnterprise: async (world) =>
    operator(world, { params: { id: (await createEnterprise(world.app)).id }, body: { phone: '13800000000' } }),
  getDataKeys: async (world) => operator(world),
  listRiskAlerts: async (world) => operator(world),
  getRiskRules: async (world) => operator(world, { query: { enterprise_id: world.a.id } }),
  // The default, set again: the other suites' binds and debits are not affected.
  putRiskRules: async (world) =>
    operator(world, { body: { enterprise_id: world.a.id, rules: [{ rule: 'binds_per_channel_day', enabled: true }] } }),
  listReencryptions: async (world) => operator(world),
  startReencryption: async (world) => {
    await world.reencryptionsSettled();
    return operator(world, { body: {} });
  },
  getReencryption: async (world) => operator(world, { params: { id: world.reencryption } }),
  listLedgerEntries: async (world) => operator(world),
  verifyLedger: async (world) => operator(world),
  getDailyReport: async (world) => operator(world, { query: { date: '2026-12-01' } }),
  getChannelSettlement: async (world) =>
    operator(world, { params: { channelId: world.channelId }, query: { date: '2026-12-01' } }),
  listAllPayments: async (world) => operator(world),
  getAnyPayment: async (world) => operator(world, { params: { id: await world.paymentOf(world.a) } }),
  recordPayment: async (world) =>
    operator(world, {
      body: {
        enterprise_id: world.a.id,
        kind: 'deposit',
        amount: 10_000,
        payer_account_name: world.a.name,
        payer_account_number: '6222 0000 1111 2345',
        bank_reference: unique('REF'),
      },
    }),
  listProducts: async (world) => operator(world),
  createProduct: async (world) =>
    operator(world, {
      body: {
        name: unique('Card'),
        card_type: 'anonymous',
        face_values: [FACE],
        validity_months: 36,
        designs: ['classic'],
      },
    }),
  getProduct: async (world) => operator(world, { params: { id: world.anonymous.id } }),
  updateProduct: async (world) =>
    operator(world, { params: { id: (await createProduct(world.app)).id }, body: { description: 'Updated' } }),

  // Tenant A.
  getBalance: async (world) => hr(world),
  getIdentity: async (world) => hr(world),
  getBatch: async (world) => hr(world, { params: { id: world.batch } }),
  listBatches: async (world) => hr(world, { query: { order_id: world.order } }),
  getCard: async (world) => hr(world, { params: { serial: world.readCard } }),
  listCardTransactions: async (world) => hr(world, { params: { serial: world.readCard } }),
  getCardTrail: async (world) => hr(world, { params: { serial: world.readCard } }),
  voidCards: async (world) => hr(world, { body: { serials: [world.takeAnonymous().serial] } }),
  freezeCard: async (world) => hr(world, { params: anonymousCard(world), body: {} }),
  unfreezeCard: async (world) => hr(world, { params: { serial: await world.frozenCard() }, body: {} }),
  refundCard: async (world) => hr(world, { params: registeredCard(world), body: {} }),
  reportCardLost: async (world) => hr(world, { params: registeredCard(world), body: {} }),
  getOwnEnterprise: async (world) => hr(world, { params: { id: world.a.id } }),
  // A tenant of its own: the bad-input suite must not move A's approval threshold.
  updateOwnEnterpriseSettings: async (world) => {
    const tenant = await world.tenant();
    return { token: tenant.hr, tenant, params: { id: tenant.id }, body: { approval_threshold: APPROVAL_THRESHOLD } };
  },
  listEvents: async (world) => hr(world),
  getEvent: async (world) => hr(world, { params: { id: world.event } }),
  redeliverEvent: async (world) => hr(world, { params: { id: world.event }, body: { endpoint_id: world.endpoint } }),
  getCardExport: async (world) => hr(world, { params: { id: world.cardExport } }),
  listCardExports: async (world) => hr(world, { query: { order_id: world.order } }),
  createCardExport: async (world) =>
    hr(world, { params: { id: await world.issuedOrder(world.a) }, body: { export_key_id: world.exportKey } }),
  confirmCardExportPurge: async (world) =>
    finance(world, { params: { id: await world.exportAwaitingPurgeConfirmation() } }),
  listExportKeys: async (world) => hr(world),
  getExportKey: async (world) => hr(world, { params: { id: world.exportKey } }),
  registerExportKey: async (world) => {
    const key = await generateKey({ userIDs: [{ name: 'Contract', email: 'erp@example.com' }], format: 'object' });
    return hr(world, { body: { public_key: key.publicKey.armor(), label: unique('key') } });
  },
  confirmExportKey: async (world) => {
    const { id, fingerprint } = await world.pendingExportKey();
    return finance(world, { params: { id }, body: { fingerprint } });
  },
  revokeExportKey: async (world) => hr(world, { params: { id: (await world.pendingExportKey()).id } }),
  getInvoiceProfile: async (world) => finance(world),
  putInvoiceProfile: async (world) => finance(world, { body: invoiceProfileBody(world.a) }),
  createInvoice: async (world) =>
    finance(world, {
      body: {
        order_ids: [
          await world.paidOrder(world.a, [{ product_id: world.anonymous.id, face_value: FACE, quantity: 1 }]),
        ],
      },
    }),
  listInvoices: async (world) => finance(world),
  getInvoice: async (world) => finance(world, { params: { id: world.invoice } }),
  getInvoicePdf: async (world) => finance(world, { params: { id: world.invoice } }),
  getInvoiceXml: async (world) => finance(world, { params: { id: world.invoice } }),
  getDistributionSettings: async (world) => hr(world),
  updateDistributionSettings: async (world) => hr(world, { body: { claim_link_ttl_days: 30 } }),
  uploadDistributionFile: async (world) =>
    hr(world, { query: { filename: 'staff.csv' }, upload: { type: 'text/csv', payload: DISTRIBUTION_CSV } }),
  getDistributionFile: async (world) => hr(world, { params: { id: await world.distributionFile() } }),
  createDistribution: async (world) =>
    hr(world, {
      body: {
        order_id: await world.issuedOrder(world.a),
        recipients: [{ employee_ref: 'E1', channel: 'link', face_value: FACE }],
      },
    }),
  listDistributions: async (world) => hr(world),
  getDistribution: async (world) => hr(world, { params: { id: await world.distribution() } }),
  listDistributionRecipients: async (world) => hr(world, { params: { id: await world.distribution() } }),
  getDistributionReport: async (world) => hr(world, { params: { id: await world.distribution() } }),
  listOrders: async (world) => hr(world),
  createOrder: async (world) =>
    hr(world, {
      body: {
        po_number: unique('PO'),
        payment_method: 'prepaid_balance',
        lines: [{ product_id: world.anonymous.id, face_value: FACE, quantity: 1 }],
      },
    }),
  getOrder: async (world) => hr(world, { params: { id: world.order } }),
  listOrderCards: async (world) => hr(world, { params: { id: world.order } }),
  approveOrder: async (world) => finance(world, { params: { id: await world.placeOrder(world.a, 101) } }),
  rejectOrder: async (world) =>
    finance(world, { params: { id: await world.placeOrder(world.a, 101) }, body: { reason: 'Over budget' } }),
  payOrder: async (world) => finance(world, { params: { id: await world.placeOrder(world.a) } }),
  cancelOrder: async (world) =>
    hr(world, { params: { id: await world.placeOrder(world.a) }, body: { reason: 'Not needed' } }),
  listPayments: async (world) => hr(world),
  getStatement: async (world) => finance(world, { query: { from: '2020-01-01', to: '2099-12-31' } }),
  listStatementLines: async (world) => finance(world, { query: { from: '2020-01-01', to: '2099-12-31' } }),
  getOrderRedemptionSummary: async (world) => finance(world, { params: { id: await world.issuedOrder(world.a) } }),
  getRedemptionSummary: async (world) => finance(world, { query: { from: '2020-01-01', to: '2099-12-31' } }),
  uploadReconciliation: async (world) =>
    finance(world, {
      query: { filename: 'erp.csv' },
      upload: { type: 'text/csv', payload: reconciliationCsv(await world.issuedOrder(world.a)) },
    }),
  listReconciliations: async (world) => finance(world),
  getReconciliation: async (world) => finance(world, { params: { id: await world.reconciliation() } }),
  createStatementRun: async (world) =>
    finance(world, { body: { from: '2020-01-01', to: '2099-12-31', format: 'csv' } }),
  getStatementRun: async (world) => finance(world, { params: { id: await world.statementRun() } }),
  downloadStatementRun: async (world) => finance(world, { params: { id: await world.statementRun() } }),
  listReconciliationDifferences: async (world) => finance(world, { params: { id: await world.reconciliation() } }),
  getPayment: async (world) => hr(world, { params: { id: await world.paymentOf(world.a) } }),
  listCatalogProducts: async (world) => hr(world),
  getCatalogProduct: async (world) => hr(world, { params: { id: world.anonymous.id } }),
  listWebhookEndpoints: async (world) => hr(world),
  // Endpoints that a call changes belong to a tenant of their own: an enterprise may have 20.
  createWebhookEndpoint: async (world) => {
    const tenant = await world.tenant();
    return { token: tenant.hr, tenant, body: { url: 'http://127.0.0.1:9/created', event_types: ['order.created'] } };
  },
  getWebhookEndpoint: async (world) => hr(world, { params: { id: world.endpoint } }),
  listWebhookAttempts: async (world) => hr(world, { params: { id: world.endpoint } }),
  testWebhookEndpoint: async (world) => hr(world, { params: { id: world.endpoint } }),
  deleteWebhookEndpoint: async (world) => ownEndpoint(world),
  updateWebhookEndpoint: async (world) => ownEndpoint(world, { description: 'Updated' }),
  recoverWebhookEndpoint: async (world) => ownEndpoint(world, { since: new Date(Date.now() - 60_000).toISOString() }),
  rotateWebhookEndpointSecret: async (world) => ownEndpoint(world, {}),

  // Distributions: control of one under way, and the SMS provider's receipts.
  resendDistributionRecipient: async (world) => {
    const { id, recipientId } = await world.distributionRecipient();
    return hr(world, { params: { id, recipientId } });
  },
  changeDistributionRecipientContact: async (world) => {
    const { id, recipientId } = await world.distributionRecipient();
    return hr(world, { params: { id, recipientId }, body: { email: 'moved@example.com' } });
  },
  revokeDistributionRecipient: async (world) => {
    const { id, recipientId } = await world.distributionRecipient();
    return hr(world, { params: { id, recipientId } });
  },
  cancelDistribution: async (world) =>
    hr(world, { params: { id: (await world.distributionRecipient('scheduled')).id } }),
  receiveTencentSmsReceipts: async () => ({
    token: null,
    params: { token: CONTRACT_SMS_RECEIPT_TOKEN },
    body: [
      {
        report_status: 'SUCCESS',
        sid: 'contract-unknown-sid',
        errmsg: 'DELIVRD',
        description: '',
        mobile: '13800000000',
        nationcode: '86',
        user_receive_time: '2026-12-06 10:00:00',
      },
    ],
  }),

  // The redemption channel.
  verifyCard: async (world) => channel(world, { body: { code: world.takeAnonymous().code } }),
  bindCard: async (world) => {
    const card = world.takeAnonymous();
    return channel(world, {
      body: { code: card.code, pin: card.pin, holder_ref: unique('h'), reference: unique('b') },
    });
  },
  debitCard: async (world) => {
    const { serial, holder } = await world.debitedCard();
    return channel(world, { body: { serial, holder_ref: holder, amount: 100, reference: unique('d') } });
  },
  createPaymentCode: async (world) => {
    const { serial, holder } = await world.debitedCard();
    return channel(world, { body: { serial, holder_ref: holder } });
  },
  reverseDebit: async (world) => {
    const { redemption } = await world.debitedCard();
    return channel(world, { params: { id: redemption }, body: { reference: unique('r') } });
  },
  bindClaimTicket: async (world) =>
    channel(world, { params: { ticket: await world.claimTicket() }, body: { holder_ref: unique('h') } }),
};

function invoiceProfileBody(tenant: Tenant) {
  return {
    title: tenant.name,
    taxpayer_id: '91310000MA1FL0000N',
    address: '上海市',
    phone: '021-00000000',
    emails: [],
    mode: 'on_request',
  };
}

async function ownEndpoint(world: World, body?: object): Promise<Call> {
  const tenant = await world.tenant();
  return { token: tenant.hr, tenant, params: { id: await world.webhookEndpoint(tenant) }, body };
}

/** The recipe for `operation`; throws (failing the suite) when there is none. */
export function recipeFor(operation: Operation): Recipe {
  const recipe = recipes[operation.id];
  if (!recipe) {
    throw new Error(
      `${operation.id} (${operation.method.toUpperCase()} ${operation.path}) has no recipe: add a happy-path ` +
        'request for it to test/contract/support/world.ts',
    );
  }
  return recipe;
}
