import { createHash, randomBytes } from 'node:crypto';
import { decrypt, generateKey, readMessage } from 'openpgp';
import { DemoApi } from './api';
import { ErpReceiver } from './erp-receiver';

export interface ClientCredentials {
  client_id: string;
  client_secret: string;
}

export interface DemoOptions {
  /** The API's base URL, e.g. http://localhost:3000. */
  baseUrl: string;
  /** Where Prometheus scrapes it (the metrics listener), for the summary's link. */
  metricsUrl: string;
  /** The demo tenant `npm start` seeds (DATA_DIR/demo-credentials.json). */
  demo: { enterprise_id: string; hr: ClientCredentials; finance: ClientCredentials };
  operator: ClientCredentials;
  /** Cards of the big order (DEMO_CARDS, default 10,000). */
  cards: number;
  /** Cards the redemption channel binds and spends from (at most `cards`). */
  redemptions: number;
  /** Employees in the distribution, a second order of their own (exports and distributions exclude each other). */
  employees: number;
}

/** How the story is told: steps as lines, long waits as progress bars (cli-progress in a terminal). */
export interface DemoReporter {
  step(line: string): void;
  progress(label: string, total: number): { update(value: number): void; stop(): void };
}

export interface DemoSummary {
  order_id: string;
  order_status: string;
  approval_required: boolean;
  cards_minted: number;
  minting_seconds: number;
  export: { id: string; rows: number; sha256_verified: boolean };
  redemptions: { cards: number; spent: number };
  distribution: {
    id: string;
    order_id: string;
    recipients: number;
    links_opened: number;
    counts: Record<string, number>;
  };
  webhooks: { deliveries: number; verified: number; rejected: number; by_type: Record<string, number> };
  links: { order: string; batches: string; docs: string; metrics: string; queues: string };
}

interface Order {
  id: string;
  status: string;
  payable: number;
}

interface Batch {
  count: number;
  issued_count: number;
}

const FACE_VALUE = 10_000; // 100 CNY
const SPEND = 2_599; // 25.99 CNY per redeemed card
const PURCHASER = { name: '张三', id_type: 'resident_id', id_number: '11010519491231002X', phone: '13812345678' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const unique = () => randomBytes(4).toString('hex').toUpperCase();

/**
 * The whole story against a running Fuli, as an enterprise's HR, finance and ERP systems, the operator and a
 * redemption channel live it: deposit, order, approval, payment, minting, export (decrypted and checked), redemptions,
 * a distribution, and every step's webhooks received and verified by a local ERP receiver. Clients, keys and the
 * endpoint it makes for itself are revoked or deleted at the end.
 */
export async function runDemo(options: DemoOptions, report: DemoReporter): Promise<DemoSummary> {
  const api = new DemoApi(options.baseUrl);
  const { demo } = options;
  const [hr, finance, operator] = await Promise.all([
    api.token(demo.hr.client_id, demo.hr.client_secret),
    api.token(demo.finance.client_id, demo.finance.client_secret),
    api.token(options.operator.client_id, options.operator.client_secret),
  ]);
  const cleanup: Array<() => Promise<unknown>> = [];
  const receiver = await ErpReceiver.start();
  try {
    // 1. The ERP subscribes to every event, and keeps the secret it is shown once.
    const endpoint = await api.post<{ id: string; secret: string }>('/v1/webhook-endpoints', {
      token: hr,
      body: { url: receiver.url, event_types: ['*'], description: 'fuli demo ERP' },
    });
    receiver.trust(endpoint.secret);
    cleanup.push(() => api.call('DELETE', `/v1/webhook-endpoints/${endpoint.id}`, { token: hr }));
    report.step(`ERP webhook receiver at ${receiver.url} (endpoint ${endpoint.id})`);

    // The ERP's export client (cards:secrets is never granted by default) and the demo redemption channel.
    const erpClient = await api.post<ClientCredentials & { id: string }>('/v1/admin/api-clients', {
      token: operator,
      body: { name: 'Demo ERP card import', enterprise_id: demo.enterprise_id, scopes: ['cards:secrets'] },
    });
    const channelClient = await api.post<ClientCredentials & { id: string }>('/v1/admin/api-clients', {
      token: operator,
      body: { name: 'Demo redemption channel', scopes: ['redemptions:write'] },
    });
    for (const id of [erpClient.id, channelClient.id]) {
      cleanup.push(() => api.post(`/v1/admin/api-clients/${id}/revoke`, { token: operator }));
    }
    const [erp, channel] = await Promise.all([
      api.token(erpClient.id, erpClient.client_secret),
      api.token(channelClient.id, channelClient.client_secret),
    ]);

    // 2. The deposit: the enterprise wires enough for both orders; the operator books it.
    const enterprise = await api.get<{ name: string; invoice_title: string | null }>(
      `/v1/enterprises/${demo.enterprise_id}`,
      { token: hr },
    );
    const deposit = (options.cards + options.employees) * FACE_VALUE;
    const payment = await api.post<{ id: string }>('/v1/admin/payments', {
      token: operator,
      body: {
        enterprise_id: demo.enterprise_id,
        kind: 'deposit',
        amount: deposit,
        payer_account_name: enterprise.invoice_title ?? enterprise.name,
        payer_account_number: '6222 0210 0101 2345',
        bank_reference: `DEMO-${Date.now()}-${unique()}`,
      },
    });
    report.step(`Deposit of ${yuan(deposit)} booked (${payment.id})`);

    // 3. The big order, approved by finance when above the enterprise's threshold, and paid.
    const products = await api.get<{ data: Array<{ id: string; card_type: string; face_values: number[] }> }>(
      '/v1/products',
      { token: hr, query: { limit: 100 } },
    );
    const product = products.data.find((p) => p.card_type === 'anonymous' && p.face_values.includes(FACE_VALUE));
    if (!product)
      throw new Error(`no anonymous product of ${yuan(FACE_VALUE)} in the catalog: is this the demo tenant?`);
    const placed = await placeAndPay(api, { hr, finance }, product.id, options.cards);
    const order = placed.order;
    report.step(
      `Order ${order.id}: ${options.cards.toLocaleString('en-US')} cards of ${yuan(FACE_VALUE)}, ` +
        `${placed.approvalRequired ? 'approved by finance, ' : ''}paid ${yuan(order.payable)}`,
    );

    // 4. Minting, followed through GET /v1/batches.
    const started = Date.now();
    const minted = await waitForIssued(
      api,
      hr,
      order.id,
      options.cards,
      report.progress('Minting cards', options.cards),
    );
    const mintingSeconds = (Date.now() - started) / 1000;
    report.step(`Minted ${minted.toLocaleString('en-US')} cards in ${mintingSeconds.toFixed(1)} s`);

    // 5. The export: a key pair on the ERP's side, registered and confirmed by finance; the file decrypted, checked.
    const cards = await exportCards(api, { erp, finance }, order.id, report);
    const exportId = cards.exportId;
    report.step(`Export ${exportId}: ${cards.rows.length} rows decrypted, SHA-256 matches the manifest`);

    // 6. Redemptions: holders bind cards at the channel and spend from them.
    const redeemed = cards.rows.slice(0, options.redemptions);
    const bar = report.progress('Redemptions (bind + spend)', redeemed.length);
    for (const [i, card] of redeemed.entries()) {
      const holder = `demo-user-${unique()}`;
      await api.post('/v1/redemptions/bind', {
        token: channel,
        body: { code: card.code, pin: card.pin, holder_ref: holder, reference: `bind-${unique()}-${i}` },
      });
      await api.post('/v1/redemptions/debit', {
        token: channel,
        body: { serial: card.serial, holder_ref: holder, amount: SPEND, reference: `spend-${unique()}-${i}` },
      });
      bar.update(i + 1);
    }
    bar.stop();
    report.step(`${redeemed.length} cards bound and spent through the demo redemption channel`);

    // 7. A distribution: a second order (an exported order is never distributed), handed to employees by link.
    const gifts = await placeAndPay(api, { hr, finance }, product.id, options.employees);
    await waitForIssued(
      api,
      hr,
      gifts.order.id,
      options.employees,
      report.progress('Minting gifts', options.employees),
    );
    const recipients = Array.from({ length: options.employees }, (_, i) => ({
      employee_ref: `E${String(i + 1).padStart(5, '0')}`,
      channel: 'link',
      face_value: FACE_VALUE,
      greeting: '新春快乐',
    }));
    const distribution = await api.post<{ id: string; link_recipients: Array<{ claim_url: string }> }>(
      '/v1/distributions',
      { token: hr, headers: { 'Idempotency-Key': `demo-${unique()}` }, body: { order_id: gifts.order.id, recipients } },
    );
    const opened = report.progress('Employees opening their links', distribution.link_recipients.length);
    for (const [i, recipient] of distribution.link_recipients.entries()) {
      // The link is PUBLIC_URL's; the demo opens it on the server it talks to.
      await api.get(new URL(recipient.claim_url).pathname);
      opened.update(i + 1);
    }
    opened.stop();
    const followed = await api.get<{ counts: Record<string, number> }>(`/v1/distributions/${distribution.id}`, {
      token: hr,
    });
    report.step(`Distribution ${distribution.id}: ${recipients.length} employees, ${recipients.length} links opened`);

    // 8. The webhooks: wait for the last events of the story to arrive, verified.
    const expected = () =>
      receiver.ofType('order.issued').length >= 2 &&
      receiver.ofType('card.debited').length >= redeemed.length &&
      receiver.ofType('distribution.created').length >= 1;
    const arrived = await receiver.until(expected, 60_000);
    report.step(
      `${receiver.events.size} webhook events verified${arrived ? '' : ' (some still on their way after 60 s)'}`,
    );

    const byType: Record<string, number> = {};
    for (const event of receiver.events.values()) byType[event.type] = (byType[event.type] ?? 0) + 1;
    const finalOrder = await api.get<Order>(`/v1/orders/${order.id}`, { token: hr });
    return {
      order_id: order.id,
      order_status: finalOrder.status,
      approval_required: placed.approvalRequired,
      cards_minted: minted,
      minting_seconds: Math.round(mintingSeconds * 10) / 10,
      export: { id: exportId, rows: cards.rows.length, sha256_verified: cards.verified },
      redemptions: { cards: redeemed.length, spent: redeemed.length * SPEND },
      distribution: {
        id: distribution.id,
        order_id: gifts.order.id,
        recipients: recipients.length,
        links_opened: distribution.link_recipients.length,
        counts: Object.fromEntries(Object.entries(followed.counts).filter(([, count]) => count > 0)),
      },
      webhooks: {
        deliveries: receiver.deliveries,
        verified: receiver.events.size,
        rejected: receiver.rejected,
        by_type: byType,
      },
      links: {
        order: `${options.baseUrl}/v1/orders/${order.id}`,
        batches: `${options.baseUrl}/v1/batches?order_id=${order.id}`,
        docs: `${options.baseUrl}/docs`,
        metrics: `${options.metricsUrl}/metrics`,
        queues: `${options.baseUrl}/admin/queues`,
      },
    };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    await receiver.close();
  }
}

function yuan(fen: number): string {
  return `${(fen / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })} CNY`;
}

async function placeAndPay(
  api: DemoApi,
  tokens: { hr: string; finance: string },
  productId: string,
  quantity: number,
): Promise<{ order: Order; approvalRequired: boolean }> {
  const po = `PO-DEMO-${unique()}`;
  const order = await api.post<Order>('/v1/orders', {
    token: tokens.hr,
    headers: { 'Idempotency-Key': po },
    body: {
      po_number: po,
      payment_method: 'prepaid_balance',
      lines: [{ product_id: productId, face_value: FACE_VALUE, quantity, greeting: '新年快乐' }],
      purchaser: PURCHASER,
    },
  });
  const approvalRequired = order.status === 'pending_approval';
  if (approvalRequired) await api.post(`/v1/orders/${order.id}/approve`, { token: tokens.finance });
  const paid = await api.post<Order>(`/v1/orders/${order.id}/pay`, { token: tokens.finance });
  return { order: paid, approvalRequired };
}

async function waitForIssued(
  api: DemoApi,
  token: string,
  orderId: string,
  cards: number,
  bar: { update(value: number): void; stop(): void },
): Promise<number> {
  for (;;) {
    const batches = await api.get<{ data: Batch[] }>('/v1/batches', { token, query: { order_id: orderId } });
    const issued = batches.data.reduce((sum, batch) => sum + batch.issued_count, 0);
    bar.update(issued);
    if (issued >= cards) {
      const order = await api.get<Order>(`/v1/orders/${orderId}`, { token });
      if (order.status !== 'paid' && order.status !== 'issuing') {
        bar.stop();
        return issued;
      }
    }
    await sleep(500);
  }
}

interface ExportedCard {
  serial: string;
  code: string;
  pin: string;
}

async function exportCards(
  api: DemoApi,
  tokens: { erp: string; finance: string },
  orderId: string,
  report: DemoReporter,
): Promise<{ exportId: string; rows: ExportedCard[]; verified: boolean }> {
  const pair = await generateKey({ userIDs: [{ name: 'Demo ERP', email: 'erp@demo.example' }], format: 'object' });
  const key = await api.post<{ id: string; fingerprint: string }>('/v1/export-keys', {
    token: tokens.erp,
    body: { public_key: pair.publicKey.armor(), label: `demo ${unique()}` },
  });
  try {
    await api.post(`/v1/export-keys/${key.id}/confirm`, {
      token: tokens.finance,
      body: { fingerprint: key.fingerprint },
    });
    const requested = await api.post<{ id: string }>(`/v1/orders/${orderId}/exports`, {
      token: tokens.erp,
      headers: { 'Idempotency-Key': `demo-export-${unique()}` },
      body: { export_key_id: key.id },
    });
    const bar = report.progress('Building the encrypted export', 1);
    let ready: {
      status: string;
      manifest: { row_count: number; plaintext_sha256: string };
      download: { token: string };
    };
    for (;;) {
      ready = await api.get(`/v1/exports/${requested.id}`, { token: tokens.erp });
      if (ready.status !== 'pending' && ready.status !== 'running') break;
      await sleep(500);
    }
    bar.update(1);
    bar.stop();
    if (ready.status !== 'ready') throw new Error(`export ${requested.id} ended ${ready.status}`);
    const response = await api.get<Response>(`/v1/exports/${requested.id}/download`, {
      headers: { 'X-Download-Token': ready.download.token },
      raw: true,
    });
    const encrypted = new Uint8Array(await response.arrayBuffer());
    const message = await readMessage({ binaryMessage: encrypted });
    // openpgp types `data` with the DOM's stream types, which scripts/ (Node types only) does not load.
    const decrypted = (await decrypt({ message, decryptionKeys: pair.privateKey, format: 'binary' })) as {
      data: Uint8Array;
    };
    const csv = Buffer.from(decrypted.data);
    const verified = createHash('sha256').update(csv).digest('hex') === ready.manifest.plaintext_sha256;
    const rows = csv
      .toString('ascii')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => {
        const [serial, code, pin] = line.split(',');
        return { serial, code, pin };
      });
    if (rows.length !== ready.manifest.row_count) throw new Error('the export has fewer rows than its manifest');
    return { exportId: requested.id, rows, verified };
  } finally {
    await api.post(`/v1/export-keys/${key.id}/revoke`, { token: tokens.erp }).catch(() => undefined);
  }
}
