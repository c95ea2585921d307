import { randomBytes } from 'node:crypto';
import { decrypt, generateKey, readMessage, type PrivateKey } from 'openpgp';
import { DataCipher } from '../src/common/crypto/data-cipher.service';
import { AppConfig } from '../src/config/app-config';
import { ReencryptionJob } from '../src/data-keys/reencryption.job';
import { storedResponseContext } from '../src/idempotency/idempotency.interceptor';
import { generateCodes, generatePins, serialFromSequence } from '../src/cards/card-code';
import { CardSecrets } from '../src/cards/card-secrets';
import { CardsRepository } from '../src/cards/cards.repository';
import { parsePurchaser, purchaserEnvelopeContext } from '../src/orders/purchaser-identity';
import type { JobContext } from '../src/queue/on-job.decorator';
import { secretContext } from '../src/webhooks/webhook-delivery.service';
import { parseRealName, realNameEnvelopeContext, serialiseRealName } from '../src/distribution/recipient-rows';
import { insertClaimRecipient, type ClaimFixture } from './support/claims';
import { startTestApp, type TestApp } from './support/app';
import { confirmedExportKey } from './support/export-keys';
import { binaryBody } from './support/http-body';
import { createScratchDatabase, type ScratchDatabase } from './support/scratch-database';
import { sealV1 } from './support/v1-envelope';
import { createClient, createProduct, placePaidOrder, TEST_PURCHASER } from './support/fixtures';
import { waitFor } from './support/wait';
import { startWorkerProcess, workerEnv, type WorkerProcess } from './support/worker-process';

/** Key ids of this file: unique, so that nothing else ever sealed under them. */
const suffix = randomBytes(3).toString('hex');
const K1 = `k1-${suffix}`;
const K2 = `k2-${suffix}`;
const key1 = randomBytes(32).toString('base64');
const key2 = randomBytes(32).toString('base64');
const ONLY_K1 = `${K1}:${key1}`;
const K2_THEN_K1 = `${K2}:${key2},${K1}:${key1}`;
const ONLY_K2 = `${K2}:${key2}`;
/** The pepper outlives key rotations (blind indexes do not depend on data keys). */
const PEPPER = randomBytes(32).toString('base64');

interface ColumnBody {
  column: string;
  state: string;
  rows_scanned: number;
  rows_reencrypted: number;
  rows_unreadable: number;
  rows_changed_concurrently: number;
  rows_remaining: number;
  keys: Array<{
    key_id: string;
    rows_at_start: number;
    reencrypted: number;
    unreadable: number;
    changed_concurrently: number;
    remaining: number;
    rows_after: number | null;
  }>;
}

interface RunBody {
  id: string;
  status: string;
  target_key_id: string;
  rows_reencrypted: number;
  rows_unreadable: number;
  rows_changed_concurrently: number;
  rows_remaining: number;
  columns: ColumnBody[];
  failure_reason: string | null;
}

interface KeysBody {
  active_key_id: string;
  keys: Array<{
    key_id: string;
    active: boolean;
    configured: boolean;
    rows: number;
    removable: boolean;
    columns: Array<{ column: string; rows: number }>;
  }>;
}

const COLUMNS = [
  'cards.secret_ciphertext',
  'orders.purchaser_ciphertext',
  'idempotency_keys.response_body',
  'webhook_endpoints.secret_sealed',
  'webhook_endpoints.previous_secret_sealed',
  'distribution_recipients.real_name_sealed',
  'distribution_file_rows.real_name_sealed',
  'payment_code_keys.secret_sealed',
];

/**
 * The key rotation: data sealed under k1, the app restarted with `k2,k1` (old rows still open, new ones
 * use k2), the re-encryption run moves everything under k2 (twice: the second run changes nothing), and with k2
 * alone every secret still opens, unchanged. On a database of its own.
 */
describe('data-key rotation', () => {
  let database: ScratchDatabase;
  let app: TestApp | undefined;
  let recipientKey: string;
  let privateKey: PrivateKey;

  // What phase 1 leaves for the later phases.
  let orderA: string; // 30 anonymous + 20 registered cards, exported (not purged)
  let orderB: string; // 10 anonymous cards, exported with purge: their secrets are NULL
  let orderC: string; // placed after the rotation
  let token: string;
  let clientId: string;
  let tokenB: string;
  /** The export keys of order A's and order B's enterprises (registered and confirmed in phase 1). */
  let exportKeyA: string;
  let exportKeyB: string;
  /** Kept across restarts, so that the clients' tokens stay valid (the database holds everything else). */
  let jwtSigningKey: string;
  let idempotencyKey: string;
  let exportBody: Record<string, unknown>;
  let csvBefore: string;
  let secretsBefore: Map<string, { code: string; pin: string }>;
  let endpointId: string;
  let webhookSecret: string;
  let previousWebhookSecret: string;
  /** A registered card's recipient (real name sealed under k1) and an uploaded file's row holding one. */
  let holder: ClaimFixture;
  const fileId = `dfl_rotation${suffix}`;
  const fileRecipientId = `drc_rotation${suffix}`;
  const HOLDER = {
    name: '张三',
    id_type: 'resident_id' as const,
    id_number: '11010519491231002X',
    mobile: '+8613812345678',
  };

  const envWith = (keys: string) => ({
    DATABASE_URL: database.url,
    CODE_PEPPER: PEPPER,
    DATA_ENCRYPTION_KEYS: keys,
    ...(jwtSigningKey ? { JWT_SIGNING_KEY: jwtSigningKey } : {}),
  });

  /** Stops the app and starts it again with other data keys (same database, pepper and token key). */
  async function restart(keys: string): Promise<void> {
    await app?.close();
    app = undefined;
    app = await startTestApp(envWith(keys));
  }

  const current = () => {
    if (!app) throw new Error('no app running');
    return app;
  };

  async function waitIssued(orderId: string, bearer: string) {
    await waitFor(
      async () => (await current().http.get(`/v1/orders/${orderId}`).auth(bearer, { type: 'bearer' }).expect(200)).body,
      (order) => order.status === 'issued',
    );
  }

  const requestExport = (orderId: string, bearer: string, body: Record<string, unknown> = {}) =>
    current()
      .http.post(`/v1/orders/${orderId}/exports`)
      .auth(bearer, { type: 'bearer' })
      .send({ export_key_id: bearer === tokenB ? exportKeyB : exportKeyA, ...body });

  /** Waits for the export, downloads it once and decrypts it: the CSV of every card's code and PIN. */
  async function exportedCsv(exportId: string, bearer: string): Promise<string> {
    const ready = await waitFor(
      async () =>
        (await current().http.get(`/v1/exports/${exportId}`).auth(bearer, { type: 'bearer' }).expect(200)).body,
      (body) => body.status !== 'pending' && body.status !== 'running',
    );
    expect(ready.status).toBe('ready');
    const url = new URL(ready.download.url as string);
    const file = await current().http.get(`${url.pathname}${url.search}`).buffer(true).parse(binaryBody).expect(200);
    const message = await readMessage({ binaryMessage: file.body as Buffer });
    const { data } = await decrypt({ message, decryptionKeys: privateKey, format: 'binary' });
    return Buffer.from(data).toString('utf8');
  }

  /** Every envelope of the database per column and key id (SQL, independent of the API under test). */
  async function keyIdsInUse(): Promise<Record<string, Record<string, number>>> {
    const rows = await current().dataSource.query<Array<{ col: string; key_id: string; rows: number }>>(
      `SELECT 'cards.secret_ciphertext' AS col, split_part(secret_ciphertext, '.', 2) AS key_id, count(*)::int AS rows
         FROM cards WHERE secret_ciphertext IS NOT NULL GROUP BY 2
       UNION ALL
       SELECT 'orders.purchaser_ciphertext', split_part(purchaser_ciphertext, '.', 2), count(*)::int
         FROM orders WHERE purchaser_ciphertext IS NOT NULL GROUP BY 2
       UNION ALL
       SELECT 'idempotency_keys.response_body', split_part(response_body ->> 'sealed', '.', 2), count(*)::int
         FROM idempotency_keys WHERE response_body ? 'sealed' GROUP BY 2
       UNION ALL
       SELECT 'webhook_endpoints.secret_sealed', split_part(secret_sealed, '.', 2), count(*)::int
         FROM webhook_endpoints GROUP BY 2
       UNION ALL
       SELECT 'webhook_endpoints.previous_secret_sealed', split_part(previous_secret_sealed, '.', 2), count(*)::int
         FROM webhook_endpoints WHERE previous_secret_sealed IS NOT NULL GROUP BY 2
       UNION ALL
       SELECT 'distribution_recipients.real_name_sealed', split_part(real_name_sealed, '.', 2), count(*)::int
         FROM distribution_recipients WHERE real_name_sealed IS NOT NULL GROUP BY 2
       UNION ALL
       SELECT 'distribution_file_rows.real_name_sealed', split_part(real_name_sealed, '.', 2), count(*)::int
         FROM distribution_file_rows WHERE real_name_sealed IS NOT NULL GROUP BY 2
       UNION ALL
       SELECT 'payment_code_keys.secret_sealed', split_part(secret_sealed, '.', 2), count(*)::int
         FROM payment_code_keys GROUP BY 2`,
    );
    const result: Record<string, Record<string, number>> = Object.fromEntries(COLUMNS.map((c) => [c, {}]));
    for (const row of rows) result[row.col][row.key_id] = row.rows;
    return result;
  }

  /** Every stored envelope, by row: a run that changes nothing leaves this identical. */
  async function allEnvelopes(): Promise<string[]> {
    const rows = await current().dataSource.query<Array<{ row: string; envelope: string | null }>>(
      `SELECT 'card ' || serial AS row, secret_ciphertext AS envelope FROM cards
       UNION ALL SELECT 'order ' || id, purchaser_ciphertext FROM orders
       UNION ALL SELECT 'idem ' || client_id || '/' || key, response_body ->> 'sealed' FROM idempotency_keys
       UNION ALL SELECT 'webhook ' || id, secret_sealed || ' ' || coalesce(previous_secret_sealed, '') FROM webhook_endpoints
       UNION ALL SELECT 'recipient ' || id, real_name_sealed FROM distribution_recipients
       UNION ALL SELECT 'file row ' || file_id || '/' || row_number, real_name_sealed FROM distribution_file_rows
       ORDER BY 1`,
    );
    return rows.map((row) => `${row.row} ${row.envelope ?? 'NULL'}`);
  }

  async function cardEnvelopes(orderId: string): Promise<Array<{ serial: string; envelope: string | null }>> {
    return current().dataSource.query(
      'SELECT serial::text AS serial, secret_ciphertext AS envelope FROM cards WHERE order_id = $1 ORDER BY serial',
      [orderId],
    );
  }

  /** Opens every card of the order with the running app's keys. */
  async function openCards(orderId: string): Promise<Map<string, { code: string; pin: string }>> {
    const secrets = current().app.get(CardSecrets);
    const opened = new Map<string, { code: string; pin: string }>();
    for (const { serial, envelope } of await cardEnvelopes(orderId)) {
      if (envelope) opened.set(serial, secrets.open(serial, envelope));
    }
    return opened;
  }

  async function purchaserOf(orderId: string) {
    const [row] = await current().dataSource.query<Array<{ envelope: string }>>(
      'SELECT purchaser_ciphertext AS envelope FROM orders WHERE id = $1',
      [orderId],
    );
    return {
      envelope: row.envelope,
      identity: () =>
        parsePurchaser(current().app.get(DataCipher).decrypt(row.envelope, purchaserEnvelopeContext(orderId))),
    };
  }

  async function storedResponse(): Promise<string> {
    const [row] = await current().dataSource.query<Array<{ envelope: string }>>(
      "SELECT response_body ->> 'sealed' AS envelope FROM idempotency_keys WHERE client_id = $1 AND key = $2",
      [clientId, idempotencyKey],
    );
    return row.envelope;
  }

  async function operator(): Promise<string> {
    return current().operatorToken();
  }

  /** Starts a run (no body: the defaults) and waits for it to end. */
  async function runToEnd(body?: Record<string, unknown>): Promise<RunBody> {
    const request = current()
      .http.post('/v1/admin/keys/re-encryptions')
      .auth(await operator(), { type: 'bearer' });
    const started = await (body ? request.send(body) : request).expect(202);
    expect(started.body).toMatchObject({ object: 'reencryption', status: 'queued', target_key_id: K2 });
    return waitFor(
      async () =>
        (
          await current()
            .http.get(`/v1/admin/keys/re-encryptions/${started.body.id}`)
            .auth(await operator(), { type: 'bearer' })
            .expect(200)
        ).body as RunBody,
      (run) => run.status === 'completed' || run.status === 'failed',
      { timeoutMs: 60_000 },
    );
  }

  async function keyUsage(): Promise<KeysBody> {
    return (
      await current()
        .http.get('/v1/admin/keys')
        .auth(await operator(), { type: 'bearer' })
        .expect(200)
    ).body as KeysBody;
  }

  beforeAll(async () => {
    database = await createScratchDatabase('rotation');
    const pair = await generateKey({ userIDs: [{ name: 'ERP', email: 'erp@example.com' }], format: 'object' });
    recipientKey = pair.publicKey.armor();
    privateKey = pair.privateKey;
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('phase 1, keys k1: issues cards, seals purchasers and a stored response, purges one order', async () => {
    app = await startTestApp(envWith(ONLY_K1));
    jwtSigningKey = app.runtime.config.JWT_SIGNING_KEY;
    const anonymous = await createProduct(app);
    const registered = await createProduct(app, { card_type: 'registered', face_values: [50_000] });
    const scopes = ['orders:write', 'orders:read', 'cards:read', 'cards:secrets'] as const;
    const placedA = await placePaidOrder(
      app,
      'ROT-A',
      [
        { product_id: anonymous.id, face_value: 10_000, quantity: 30 },
        { product_id: registered.id, face_value: 50_000, quantity: 20 },
      ],
      [...scopes],
    );
    orderA = placedA.order.id;
    token = placedA.token;
    const me = await app.http.get('/v1/me').auth(token, { type: 'bearer' }).expect(200);
    clientId = me.body.client_id as string;
    const placedB = await placePaidOrder(
      app,
      'ROT-B',
      [{ product_id: anonymous.id, face_value: 10_000, quantity: 10 }],
      [...scopes],
    );
    orderB = placedB.order.id;
    tokenB = placedB.token;
    await waitIssued(orderA, token);
    await waitIssued(orderB, tokenB);
    exportKeyA = await confirmedExportKey(app, { registrar: token, approver: await operator() }, recipientKey);
    exportKeyB = await confirmedExportKey(app, { registrar: tokenB, approver: await operator() }, recipientKey);

    // Order B: exported with purge (confirmed by the operator), so its anonymous cards keep only their blind index.
    const purging = await requestExport(orderB, tokenB, { purge_anonymous_after_export: true }).expect(202);
    await app.http
      .post(`/v1/exports/${purging.body.id as string}/confirm-purge`)
      .auth(await operator(), { type: 'bearer' })
      .expect(200);
    await exportedCsv(purging.body.id as string, tokenB);
    expect((await cardEnvelopes(orderB)).map((card) => card.envelope)).toEqual(new Array(10).fill(null));

    // Order A: exported with an Idempotency-Key (the stored response is sealed too), the CSV kept for later.
    idempotencyKey = `rotation-${suffix}`;
    const created = await requestExport(orderA, token).set('Idempotency-Key', idempotencyKey).expect(202);
    exportBody = created.body as Record<string, unknown>;
    csvBefore = await exportedCsv(created.body.id as string, token);
    expect(csvBefore.trim().split('\n')).toHaveLength(51);
    secretsBefore = await openCards(orderA);
    expect(secretsBefore.size).toBe(50);

    // A webhook endpoint whose secret was rotated once: both signing secrets are sealed.
    const integrator = await createClient(app, { enterprise_id: placedA.enterprise.id, scopes: ['webhooks:manage'] });
    const integratorToken = await app.tokenFor(integrator.id, integrator.client_secret);
    const endpoint = await app.http
      .post('/v1/webhook-endpoints')
      .auth(integratorToken, { type: 'bearer' })
      .send({ url: 'http://127.0.0.1:9/hooks', event_types: ['order.issued'] })
      .expect(201);
    endpointId = endpoint.body.id as string;
    previousWebhookSecret = endpoint.body.secret as string;
    const rotated = await app.http
      .post(`/v1/webhook-endpoints/${endpointId}/rotate-secret`)
      .auth(integratorToken, { type: 'bearer' })
      .send({ previous_secret_expires_in: 86_400 })
      .expect(200);
    webhookSecret = rotated.body.secret as string;

    // A registered card of order A handed to an employee (its real name sealed under k1, as creation seals it), on a
    // distribution of its own order id so that order A's exports stay allowed; and an uploaded list's row.
    const [registeredCard] = await app.dataSource.query<Array<{ serial: string }>>(
      `SELECT c.serial::text AS serial FROM cards c JOIN issuance_batches b ON b.id = c.batch_id
        WHERE c.order_id = $1 AND b.card_type = 'registered' ORDER BY c.serial LIMIT 1`,
      [orderA],
    );
    holder = await insertClaimRecipient(app, {
      enterpriseId: placedA.enterprise.id,
      orderId: `ord_rotation${suffix}`,
      card: { serial: registeredCard.serial, code: '', pin: '', cardType: 'registered', faceValue: 50_000 },
      mobile: HOLDER.mobile,
    });
    await app.dataSource.query(
      `INSERT INTO distribution_files (id, enterprise_id, filename, format, row_count, expires_at)
       VALUES ($1, $2, 'staff.csv', 'csv', 1, now() + interval '3 days')`,
      [fileId, placedA.enterprise.id],
    );
    await app.dataSource.query(
      `INSERT INTO distribution_file_rows (file_id, row_number, recipient_id, employee_ref, channel, locale, face_value,
                                           email, real_name_sealed)
       VALUES ($1, 1, $2, 'E1', 'email', 'zh-CN', 50000, 'e1@example.com', $3)`,
      [
        fileId,
        fileRecipientId,
        app.app.get(DataCipher).encrypt(serialiseRealName(HOLDER), realNameEnvelopeContext(fileRecipientId)),
      ],
    );

    for (const { envelope } of await cardEnvelopes(orderA)) expect(envelope).toMatch(new RegExp(`^v2\\.${K1}\\.`));
    expect((await purchaserOf(orderA)).envelope).toMatch(new RegExp(`^v2\\.${K1}\\.`));
    expect((await purchaserOf(orderB)).envelope).toMatch(new RegExp(`^v2\\.${K1}\\.`));
    expect(await storedResponse()).toMatch(new RegExp(`^v2\\.${K1}\\.`));
    expect(await keyIdsInUse()).toEqual({
      'cards.secret_ciphertext': { [K1]: 50 },
      'orders.purchaser_ciphertext': { [K1]: 2 },
      'idempotency_keys.response_body': { [K1]: 1 },
      'webhook_endpoints.secret_sealed': { [K1]: 1 },
      'webhook_endpoints.previous_secret_sealed': { [K1]: 1 },
      'distribution_recipients.real_name_sealed': { [K1]: 1 },
      'distribution_file_rows.real_name_sealed': { [K1]: 1 },
      // No payment code was asked for in this story.
      'payment_code_keys.secret_sealed': {},
    });
  });

  it('phase 2, keys k2,k1: old rows still open, new rows use k2', async () => {
    await restart(K2_THEN_K1);
    const http = current().http;

    // The stored Idempotency-Key response (sealed under k1) is replayed.
    const replay = await requestExport(orderA, token).set('Idempotency-Key', idempotencyKey).expect(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(exportBody);
    // Card secrets sealed under k1 export as before; the purchaser sealed under k1 opens.
    const again = await requestExport(orderA, token).expect(202);
    expect(await exportedCsv(again.body.id as string, token)).toBe(csvBefore);
    expect((await purchaserOf(orderA)).identity()).toEqual(TEST_PURCHASER);

    // A new order: its purchaser and cards are sealed under k2.
    const anonymous = await createProduct(current());
    const placedC = await placePaidOrder(current(), 'ROT-C', [
      { product_id: anonymous.id, face_value: 10_000, quantity: 5 },
    ]);
    orderC = placedC.order.id;
    await waitIssued(orderC, placedC.token);
    expect((await purchaserOf(orderC)).envelope).toMatch(new RegExp(`^v2\\.${K2}\\.`));
    for (const { envelope } of await cardEnvelopes(orderC)) expect(envelope).toMatch(new RegExp(`^v2\\.${K2}\\.`));

    // Which keys are in use, as the operator sees it: both, k1 not removable yet.
    const usage = await keyUsage();
    expect(usage.active_key_id).toBe(K2);
    expect(usage.keys).toEqual([
      {
        key_id: K2,
        active: true,
        configured: true,
        rows: 6,
        removable: false,
        columns: [
          { column: 'cards.secret_ciphertext', rows: 5 },
          { column: 'orders.purchaser_ciphertext', rows: 1 },
          { column: 'idempotency_keys.response_body', rows: 0 },
          { column: 'webhook_endpoints.secret_sealed', rows: 0 },
          { column: 'webhook_endpoints.previous_secret_sealed', rows: 0 },
          { column: 'distribution_recipients.real_name_sealed', rows: 0 },
          { column: 'distribution_file_rows.real_name_sealed', rows: 0 },
          { column: 'payment_code_keys.secret_sealed', rows: 0 },
        ],
      },
      {
        key_id: K1,
        active: false,
        configured: true,
        rows: 57,
        removable: false,
        columns: [
          { column: 'cards.secret_ciphertext', rows: 50 },
          { column: 'orders.purchaser_ciphertext', rows: 2 },
          { column: 'idempotency_keys.response_body', rows: 1 },
          { column: 'webhook_endpoints.secret_sealed', rows: 1 },
          { column: 'webhook_endpoints.previous_secret_sealed', rows: 1 },
          { column: 'distribution_recipients.real_name_sealed', rows: 1 },
          { column: 'distribution_file_rows.real_name_sealed', rows: 1 },
          { column: 'payment_code_keys.secret_sealed', rows: 0 },
        ],
      },
    ]);
    expect(JSON.stringify(usage)).not.toContain(key1.slice(0, 12));
    expect(JSON.stringify(usage)).not.toContain(key2.slice(0, 12));
    await http.get('/v1/admin/keys').auth(token, { type: 'bearer' }).expect(403);
  });

  it('phase 2: the re-encryption moves every envelope under k2, leaving codes and purged cards as they were', async () => {
    const run = await runToEnd({ batch_size: 100 });
    expect(run).toMatchObject({
      status: 'completed',
      target_key_id: K2,
      rows_reencrypted: 57,
      rows_unreadable: 0,
      rows_changed_concurrently: 0,
      rows_remaining: 0,
      failure_reason: null,
    });
    const byColumn = Object.fromEntries(run.columns.map((column) => [column.column, column]));
    // The data-key columns, then the cards' blind index (CODE_PEPPER, unchanged here: nothing to re-index).
    expect(run.columns.map((column) => column.column)).toEqual([...COLUMNS, 'cards.code_hash']);
    expect(byColumn['cards.code_hash']).toMatchObject({ state: 'done', rows_scanned: 0, rows_reencrypted: 0 });
    expect(byColumn['cards.secret_ciphertext']).toMatchObject({
      state: 'done',
      rows_scanned: 65,
      rows_reencrypted: 50,
    });
    expect(byColumn['cards.secret_ciphertext'].keys).toEqual([
      {
        key_id: K2,
        rows_at_start: 5,
        reencrypted: 0,
        unreadable: 0,
        changed_concurrently: 0,
        remaining: 0,
        rows_after: 55,
      },
      {
        key_id: K1,
        rows_at_start: 50,
        reencrypted: 50,
        unreadable: 0,
        changed_concurrently: 0,
        remaining: 0,
        rows_after: 0,
      },
    ]);
    expect(byColumn['orders.purchaser_ciphertext']).toMatchObject({ state: 'done', rows_reencrypted: 2 });
    expect(byColumn['idempotency_keys.response_body']).toMatchObject({ state: 'done', rows_reencrypted: 1 });
    expect(byColumn['webhook_endpoints.secret_sealed']).toMatchObject({ state: 'done', rows_reencrypted: 1 });
    expect(byColumn['webhook_endpoints.previous_secret_sealed']).toMatchObject({ state: 'done', rows_reencrypted: 1 });
    expect(byColumn['distribution_recipients.real_name_sealed']).toMatchObject({ state: 'done', rows_reencrypted: 1 });
    expect(byColumn['distribution_file_rows.real_name_sealed']).toMatchObject({ state: 'done', rows_reencrypted: 1 });

    // Every envelope is under k2 now (counted with SQL); the purged cards stayed NULL.
    expect(await keyIdsInUse()).toEqual({
      'cards.secret_ciphertext': { [K2]: 55 },
      'orders.purchaser_ciphertext': { [K2]: 3 },
      'idempotency_keys.response_body': { [K2]: 1 },
      'webhook_endpoints.secret_sealed': { [K2]: 1 },
      'webhook_endpoints.previous_secret_sealed': { [K2]: 1 },
      'distribution_recipients.real_name_sealed': { [K2]: 1 },
      'distribution_file_rows.real_name_sealed': { [K2]: 1 },
      // No payment code was asked for in this story.
      'payment_code_keys.secret_sealed': {},
    });
    // The endpoint signs with the same two secrets as before.
    const [sealed] = await current().dataSource.query<Array<{ current: string; previous: string }>>(
      'SELECT secret_sealed AS current, previous_secret_sealed AS previous FROM webhook_endpoints WHERE id = $1',
      [endpointId],
    );
    const cipher = current().app.get(DataCipher);
    expect(cipher.decrypt(sealed.current, secretContext(endpointId))).toBe(webhookSecret);
    expect(cipher.decrypt(sealed.previous, secretContext(endpointId))).toBe(previousWebhookSecret);
    expect((await cardEnvelopes(orderB)).map((card) => card.envelope)).toEqual(new Array(10).fill(null));
    // Same codes and PINs, still bound to their serials.
    expect(await openCards(orderA)).toEqual(secretsBefore);

    const usage = await keyUsage();
    expect(usage.keys.find((k) => k.key_id === K1)).toMatchObject({ rows: 0, removable: true, configured: true });
    expect(usage.keys.find((k) => k.key_id === K2)).toMatchObject({ rows: 63, removable: false });

    const audit = await current().dataSource.query<Array<{ action: string; actor_client_id: string | null }>>(
      'SELECT action, actor_client_id FROM audit_records WHERE object_id = $1 ORDER BY seq',
      [run.id],
    );
    expect(audit).toEqual([
      { action: 'data_keys.reencryption_requested', actor_client_id: current().runtime.config.ADMIN_CLIENT_ID },
      { action: 'data_keys.reencryption_completed', actor_client_id: null },
    ]);
  });

  it('phase 2: a second run is a no-op, and only one run is unfinished at a time', async () => {
    const before = await allEnvelopes();
    const second = await runToEnd();
    expect(second).toMatchObject({ status: 'completed', rows_reencrypted: 0, rows_remaining: 0 });
    // Nothing left to move: the census finds no stale envelope, so no column is walked at all.
    for (const column of second.columns) expect(column).toMatchObject({ state: 'done', rows_scanned: 0 });
    expect(await allEnvelopes()).toEqual(before);

    // An unfinished run blocks a second one (inserted as a worker would leave it, without a job).
    await current().dataSource.query(
      `INSERT INTO reencryption_runs (id, status, target_key_id, batch_size, progress)
       VALUES ('rek_01JDQ6ZK6Y8V3N2M4T5R7W9XAB', 'running', $1, 100, '{}')`,
      [K2],
    );
    const refused = await current()
      .http.post('/v1/admin/keys/re-encryptions')
      .auth(await operator(), { type: 'bearer' })
      .send({})
      .expect(409);
    expect(refused.body).toMatchObject({
      code: 'reencryption_in_progress',
      reencryption_id: 'rek_01JDQ6ZK6Y8V3N2M4T5R7W9XAB',
    });
    await current().dataSource.query("DELETE FROM reencryption_runs WHERE id = 'rek_01JDQ6ZK6Y8V3N2M4T5R7W9XAB'");
    const invalid = await current()
      .http.post('/v1/admin/keys/re-encryptions')
      .auth(await operator(), { type: 'bearer' })
      .send({ batch_size: 5 })
      .expect(400);
    expect(invalid.body.code).toBe('validation_failed');
  });

  it('phase 2: a purge or a write between the read and the update wins over the re-encryption', async () => {
    // Twenty cards sealed under k1 by an older deployment.
    const oldConfig = Object.assign(new AppConfig(), { CODE_PEPPER: PEPPER, DATA_ENCRYPTION_KEYS: ONLY_K1 });
    const oldSecrets = new CardSecrets(oldConfig, new DataCipher(oldConfig));
    const codes = generateCodes(20);
    const pins = generatePins(20);
    const serials = codes.map((_, i) => serialFromSequence(40_000_000_000 + i));
    await current().dataSource.query(
      `INSERT INTO cards (serial, order_id, batch_id, enterprise_id, card_type, product_id, face_value, balance, status,
                          code_hash, secret_ciphertext, code_key_id)
       SELECT serial, 'ord_concurrent', 'bat_concurrent', 'ent_concurrent', 'anonymous', 'prd_concurrent', 10000, 0,
              'issued', code_hash, envelope, 'p0'
         FROM unnest($1::bigint[], $2::bytea[], $3::text[]) AS card(serial, code_hash, envelope)`,
      [
        serials,
        codes.map((code) => oldSecrets.blindIndex(code)),
        serials.map((serial, i) => oldSecrets.seal(serial, codes[i], pins[i])),
      ],
    );
    // After the job has read and re-sealed its batch, just before it stores it: five cards are purged and one is
    // sealed anew (another code) by someone else.
    const secrets = current().app.get(CardSecrets);
    const [newCode] = generateCodes(1);
    const rewritten = secrets.seal(serials[5], newCode, '123456');
    // Right before the job's UPDATE of the cards' envelopes (inside its transaction, after it read and re-sealed).
    const queries = current().app.get(CardsRepository).sealedColumns;
    const reseal = queries.reseal.bind(queries);
    let interfered = false;
    const spy = jest.spyOn(queries, 'reseal').mockImplementation(async (...args) => {
      if (!interfered) {
        interfered = true;
        await current().dataSource.query('UPDATE cards SET secret_ciphertext = NULL WHERE serial = ANY($1::bigint[])', [
          serials.slice(0, 5),
        ]);
        await current().dataSource.query('UPDATE cards SET secret_ciphertext = $2 WHERE serial = $1', [
          serials[5],
          rewritten,
        ]);
      }
      return reseal(...args);
    });
    let result: RunBody;
    try {
      result = await runToEnd();
    } finally {
      spy.mockRestore();
    }
    expect(interfered).toBe(true);
    expect(result.columns[0]).toMatchObject({
      column: 'cards.secret_ciphertext',
      rows_reencrypted: 14,
      rows_changed_concurrently: 6,
      keys: [
        expect.objectContaining({ key_id: K2, rows_after: 70 }),
        expect.objectContaining({
          key_id: K1,
          rows_at_start: 20,
          reencrypted: 14,
          changed_concurrently: 6,
          rows_after: 0,
        }),
      ],
    });
    const after = await cardEnvelopes('ord_concurrent');
    expect(after.slice(0, 5).map((card) => card.envelope)).toEqual([null, null, null, null, null]);
    expect(after[5].envelope).toBe(rewritten);
    after.slice(6).forEach(({ serial, envelope }, i) => {
      expect(envelope).toMatch(new RegExp(`^v2\\.${K2}\\.`));
      expect(secrets.open(serial, envelope!)).toEqual({ code: codes[i + 6], pin: pins[i + 6] });
    });
  });

  it('phase 3, key k2 only: everything still opens, unchanged', async () => {
    await restart(ONLY_K2);
    const again = await requestExport(orderA, token).expect(202);
    expect(await exportedCsv(again.body.id as string, token)).toBe(csvBefore);
    expect(await openCards(orderA)).toEqual(secretsBefore);
    expect((await purchaserOf(orderA)).identity()).toEqual(TEST_PURCHASER);
    expect((await purchaserOf(orderB)).identity()).toEqual(TEST_PURCHASER);
    const replay = await requestExport(orderA, token).set('Idempotency-Key', idempotencyKey).expect(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(exportBody);
    const stored = current()
      .app.get(DataCipher)
      .decrypt(await storedResponse(), storedResponseContext(clientId, idempotencyKey));
    expect(JSON.parse(stored)).toEqual(exportBody);
    expect((await cardEnvelopes(orderB)).map((card) => card.envelope)).toEqual(new Array(10).fill(null));
    // The holder's real name opens under k2 alone, for the same recipient: the claim page's one-time code goes out.
    const [recipient] = await current().dataSource.query<Array<{ sealed: string }>>(
      'SELECT real_name_sealed AS sealed FROM distribution_recipients WHERE id = $1',
      [holder.recipientId],
    );
    const cipher = current().app.get(DataCipher);
    expect(parseRealName(cipher.decrypt(recipient.sealed, realNameEnvelopeContext(holder.recipientId)))).toEqual(
      HOLDER,
    );
    const otp = await current()
      .http.post(`/claim/${holder.token}/otp`)
      .set('sec-fetch-site', 'same-origin')
      .send({})
      .expect(200);
    expect(otp.body).toMatchObject({ mobile: '+86138****5678' });
    const [fileRow] = await current().dataSource.query<Array<{ sealed: string }>>(
      'SELECT real_name_sealed AS sealed FROM distribution_file_rows WHERE file_id = $1',
      [fileId],
    );
    expect(parseRealName(cipher.decrypt(fileRow.sealed, realNameEnvelopeContext(fileRecipientId)))).toEqual(HOLDER);
    // k1 is gone from the configuration and from the data: it is not listed at all.
    expect((await keyUsage()).keys.map((k) => k.key_id)).toEqual([K2]);
  });

  it('phase 3: a worker whose active key is not the run’s target refuses the run', async () => {
    // As a process still on the old keys (k1 active) would have started it.
    const runId = 'rek_01JDQ6ZK6Y8V3N2M4T5R7W9XAC';
    await current().dataSource.query(
      `INSERT INTO reencryption_runs (id, status, target_key_id, batch_size, progress) VALUES ($1, 'queued', $2, 100, '{}')`,
      [runId, K1],
    );
    const before = await allEnvelopes();
    const lastAttempt = { attemptsMade: 4, opts: { attempts: 5 } } as unknown as JobContext;
    await expect(current().app.get(ReencryptionJob).run({ runId }, lastAttempt)).rejects.toThrow(/key_mismatch/);
    const run = (
      await current()
        .http.get(`/v1/admin/keys/re-encryptions/${runId}`)
        .auth(await operator(), { type: 'bearer' })
        .expect(200)
    ).body as RunBody;
    expect(run.status).toBe('failed');
    expect(run.failure_reason).toContain(`this worker seals with key '${K2}' but the run targets '${K1}'`);
    expect(await allEnvelopes()).toEqual(before);
    const [audit] = await current().dataSource.query<Array<{ action: string }>>(
      'SELECT action FROM audit_records WHERE object_id = $1 ORDER BY seq DESC LIMIT 1',
      [runId],
    );
    expect(audit.action).toBe('data_keys.reencryption_failed');
  });
});

/** Cards seeded for the crash test; every 10th has been purged (NULL). */
const CRASH_N = Number(process.env.ROTATION_CRASH_N ?? 10_000);
const CRASH_BATCH = 100;

/**
 * The run survives its worker: the API runs here (no in-process worker), the real worker (src/worker.ts) in a child
 * process that is SIGKILLed mid-run and started again; the run resumes from its last committed batch and ends with
 * every envelope moved exactly once. On a database of its own.
 */
describe('data-key rotation under a worker crash', () => {
  let database: ScratchDatabase;
  let app: TestApp;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    database = await createScratchDatabase('rotation_crash');
    app = await startTestApp(
      { DATABASE_URL: database.url, CODE_PEPPER: PEPPER, DATA_ENCRYPTION_KEYS: K2_THEN_K1 },
      { worker: false },
    );
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await app?.close();
    await database?.drop();
  });

  /** Cards whose envelope starts with `prefix` (`v1.<key id>.`: the old format; `v2.<key id>.`: the current). */
  const countUnder = async (prefix: string) => {
    const [{ count }] = await app.dataSource.query<Array<{ count: number }>>(
      'SELECT count(*)::int AS count FROM cards WHERE starts_with(secret_ciphertext, $1)',
      [prefix],
    );
    return count;
  };
  const OLD = `v1.${K1}.`;
  const NEW = `v2.${K2}.`;

  it('resumes after a SIGKILL and moves every envelope exactly once, from the v1 format under k1 to v2 under k2', async () => {
    // Cards as an older deployment (k1 only, envelope format v1: AES-256-GCM) sealed them.
    const oldConfig = Object.assign(new AppConfig(), { CODE_PEPPER: PEPPER, DATA_ENCRYPTION_KEYS: ONLY_K1 });
    const oldSecrets = new CardSecrets(oldConfig, new DataCipher(oldConfig));
    const codes = generateCodes(CRASH_N);
    const pins = generatePins(CRASH_N);
    const serials = codes.map((_, i) => serialFromSequence(20_000_000_000 + i));
    const envelopes = serials.map((serial, i) =>
      i % 10 === 9 ? null : sealV1(K1, key1, `${codes[i]}|${pins[i]}`, `cards.code:${serial}`),
    );
    for (let start = 0; start < CRASH_N; start += 5_000) {
      const end = Math.min(CRASH_N, start + 5_000);
      await app.dataSource.query(
        `INSERT INTO cards (serial, order_id, batch_id, enterprise_id, card_type, product_id, face_value, balance,
                            status, code_hash, secret_ciphertext, code_key_id)
           SELECT serial, 'ord_crash', 'bat_crash', 'ent_crash', 'anonymous', 'prd_crash', 10000, 0, 'issued', code_hash,
                  envelope, $4
             FROM unnest($1::bigint[], $2::bytea[], $3::text[]) AS card(serial, code_hash, envelope)`,
        [
          serials.slice(start, end),
          codes.slice(start, end).map((code) => oldSecrets.blindIndex(code)),
          envelopes.slice(start, end),
          oldSecrets.blindIndexKeyId,
        ],
      );
    }
    const sealed = envelopes.filter((envelope) => envelope !== null).length;
    expect(await countUnder(OLD)).toBe(sealed);

    const env = workerEnv(app.runtime.config);
    workers.push(startWorkerProcess(env));
    const started = await app.http
      .post('/v1/admin/keys/re-encryptions')
      .auth(await app.operatorToken(), { type: 'bearer' })
      .send({ batch_size: CRASH_BATCH })
      .expect(202);
    const runId = started.body.id as string;

    // Killed once a tenth of the envelopes have moved (committed batches, read with SQL), well before the end.
    const movedAtKill = await waitFor(
      () => countUnder(NEW),
      (moved) => moved >= sealed / 10,
      { timeoutMs: 60_000, intervalMs: 10 },
    );
    await workers[0].kill();
    const afterKill = await countUnder(NEW);
    expect(afterKill).toBeLessThan(sealed);
    expect(afterKill).toBeGreaterThanOrEqual(movedAtKill);
    const [halfway] = await app.dataSource.query<Array<{ status: string; scanned: number; moved: number }>>(
      `SELECT status, (progress -> 'cards.secret_ciphertext' ->> 'scanned')::int AS scanned,
                (progress -> 'cards.secret_ciphertext' -> 'reencrypted' ->> $2)::int AS moved
           FROM reencryption_runs WHERE id = $1`,
      // A v1 envelope's key is counted as `v1:<key id>` (stale even under the target key).
      [runId, `v1:${K1}`],
    );
    // The checkpoint commits with its batch: what it counts is exactly what moved.
    expect(halfway).toEqual({ status: 'running', scanned: expect.any(Number), moved: afterKill });

    workers.push(startWorkerProcess(env));
    const run = await waitFor(
      async () =>
        (
          await app.http
            .get(`/v1/admin/keys/re-encryptions/${runId}`)
            .auth(await app.operatorToken(), { type: 'bearer' })
            .expect(200)
        ).body as RunBody,
      (body) => body.status === 'completed' || body.status === 'failed',
      { timeoutMs: 90_000 },
    );
    expect(run).toMatchObject({
      status: 'completed',
      rows_reencrypted: sealed,
      rows_unreadable: 0,
      rows_changed_concurrently: 0,
      rows_remaining: 0,
    });
    expect(run.columns[0]).toMatchObject({ column: 'cards.secret_ciphertext', rows_scanned: CRASH_N });
    expect(await countUnder(OLD)).toBe(0);
    expect(await countUnder(NEW)).toBe(sealed);

    // The same codes and PINs under k2 alone; the purged cards are still NULL.
    const newConfig = Object.assign(new AppConfig(), { CODE_PEPPER: PEPPER, DATA_ENCRYPTION_KEYS: ONLY_K2 });
    const newSecrets = new CardSecrets(newConfig, new DataCipher(newConfig));
    const rows = await app.dataSource.query<Array<{ serial: string; envelope: string | null }>>(
      "SELECT serial::text AS serial, secret_ciphertext AS envelope FROM cards WHERE order_id = 'ord_crash' ORDER BY serial",
    );
    expect(rows).toHaveLength(CRASH_N);
    rows.forEach(({ serial, envelope }, i) => {
      expect(serial).toBe(serials[i]);
      if (i % 10 === 9) expect(envelope).toBeNull();
      else expect(newSecrets.open(serial, envelope!)).toEqual({ code: codes[i], pin: pins[i] });
    });
  }, 180_000);
});
