import { randomBytes } from 'node:crypto';
import { generateKey } from 'openpgp';
import { linkHash } from '../src/audit/audit-chain';
import { waitFor } from './support/wait';
import { startTestApp, type TestApp } from './support/app';
import { cardsWithSecrets, waitForIssued, type CardWithSecret } from './support/cards';
import { confirmedExportKey } from './support/export-keys';
import {
  createClient,
  createProduct,
  enterpriseWithClient,
  placePaidOrder,
  redemptionChannel,
  TEST_PURCHASER,
} from './support/fixtures';

interface Step {
  object_type: string;
  object_id: string;
  step: string;
  action: string;
  actor_client_id: string | null;
  summary: Record<string, unknown> | null;
  audit_record_id: string;
  seq: number;
  prev_hash: string;
  hash: string;
}

/**
 * A card's trail (交易溯源, GET /v1/cards/{serial}/trail): its whole history from the audit chain, each step with its
 * record's hash, which checks out against the chain.
 */
describe('card trail', () => {
  let app: TestApp;
  let operator: string;
  let card: CardWithSecret;
  let named: CardWithSecret;
  let enterpriseToken: string;
  let channel: { id: string; token: string };
  let orderId: string;
  let ref = 0;
  const nextRef = () => `trail-${Date.now()}-${ref++}`;
  const post = (token: string, path: string, body: object) =>
    app.http.post(path).auth(token, { type: 'bearer' }).send(body);

  /**
   * Each step is the chain's record: same hash at the same seq, linked to the record before it, and the chain
   * verifies as a whole.
   */
  async function expectInChain(steps: Step[]): Promise<void> {
    for (const step of steps) {
      const [record] = await app.dataSource.query<Array<{ id: string; hash: string; prev_hash: string; mac: string }>>(
        'SELECT id, hash, prev_hash, mac FROM audit_records WHERE seq = $1',
        [step.seq],
      );
      expect(record).toMatchObject({ id: step.audit_record_id, hash: step.hash, prev_hash: step.prev_hash });
      expect(linkHash(step.prev_hash, step.seq, record.mac)).toBe(step.hash);
      const [previous] = await app.dataSource.query<Array<{ hash: string }>>(
        'SELECT hash FROM audit_records WHERE seq = $1',
        [step.seq - 1],
      );
      if (previous) expect(previous.hash).toBe(step.prev_hash);
    }
    const verified = await app.http.get('/v1/admin/audit/verify').auth(operator, { type: 'bearer' }).expect(200);
    expect(verified.body.ok).toBe(true);
  }

  beforeAll(async () => {
    app = await startTestApp({ ISSUANCE_CHUNK_SIZE: '100', RATE_LIMIT_REQUESTS: '100000' });
    operator = await app.operatorToken();
    const product = await createProduct(app);
    const registeredProduct = await createProduct(app, { card_type: 'registered', validity_months: null });
    const placed = await placePaidOrder(app, `TRAIL-${randomBytes(4).toString('hex')}`, [
      { product_id: product.id, face_value: 10_000, quantity: 2 },
      { product_id: registeredProduct.id, face_value: 10_000, quantity: 1 },
    ]);
    orderId = placed.order.id;
    await waitForIssued(app, orderId);
    const minted = await cardsWithSecrets(app, orderId);
    card = minted.find((each) => each.cardType === 'anonymous')!;
    named = minted.find((each) => each.cardType === 'registered')!;
    const hr = await createClient(app, {
      enterprise_id: placed.enterprise.id,
      scopes: ['cards:read', 'cards:write'],
      name: 'trail HR',
    });
    enterpriseToken = await app.tokenFor(hr.id, hr.client_secret);
    channel = await redemptionChannel(app, 'trail shop');
  });
  afterAll(async () => {
    await app?.close();
  });

  it('follows a registered card through loss to its replacement', async () => {
    await post(channel.token, '/v1/redemptions/bind', {
      code: named.code,
      pin: named.pin,
      holder_ref: 'named',
      reference: nextRef(),
      holder_identity: { name: TEST_PURCHASER.name, id_type: 'resident_id', id_number: TEST_PURCHASER.id_number },
    }).expect(200);
    const lost = await post(enterpriseToken, `/v1/cards/${named.serial}/report-loss`, {}).expect(200);
    const replacement = lost.body.replacement.serial as string;
    const trail = await app.http.get(`/v1/cards/${named.serial}/trail`).auth(operator, { type: 'bearer' }).expect(200);
    const steps = trail.body.steps as Step[];
    expect(steps.map((step) => step.step)).toEqual(['minted', 'bound', 'lost']);
    expect(JSON.stringify(steps[2].summary)).toContain(replacement);
    // The replacement's own trail starts at its replacement (the loss record names both cards).
    const next = await app.http.get(`/v1/cards/${replacement}/trail`).auth(operator, { type: 'bearer' }).expect(200);
    expect((next.body.steps as Step[]).map((step) => step.step)).toContain('lost');
  });

  it('tells minted, bound (by which channel), debited, reversed, the alert and the freeze, each with a verifiable hash', async () => {
    await app.http
      .put('/v1/admin/risk-rules')
      .auth(operator, { type: 'bearer' })
      .send({ client_id: channel.id, rules: [{ rule: 'debits_per_card_minute', threshold: 1, action: 'flag' }] })
      .expect(200);
    await post(channel.token, '/v1/redemptions/bind', {
      code: card.code,
      pin: card.pin,
      holder_ref: 'traced',
      reference: nextRef(),
    }).expect(200);
    const spent = await post(channel.token, '/v1/redemptions/debit', {
      serial: card.serial,
      holder_ref: 'traced',
      amount: 2_500,
      reference: nextRef(),
    }).expect(200);
    await post(channel.token, `/v1/redemptions/${spent.body.id as string}/reverse`, {
      amount: 1_000,
      reference: nextRef(),
    }).expect(200);
    await post(enterpriseToken, `/v1/cards/${card.serial}/freeze`, { reason: 'checking the trail' }).expect(200);

    const trail = await app.http
      .get(`/v1/cards/${card.serial}/trail`)
      .auth(enterpriseToken, { type: 'bearer' })
      .expect(200);
    expect(trail.body).toMatchObject({
      object: 'card_trail',
      serial: card.serial,
      order_id: orderId,
      status: 'frozen',
    });
    const steps = trail.body.steps as Step[];
    expect(steps.map((step) => step.step)).toEqual(['minted', 'bound', 'debited', 'alert', 'reversed', 'frozen']);
    expect(steps.find((step) => step.step === 'bound')!.actor_client_id).toBe(channel.id);
    expect(steps.find((step) => step.step === 'alert')!.summary).toMatchObject({
      rule: 'debits_per_card_minute',
      action: 'flag',
      figures: { count: 1, threshold: 1 },
    });
    expect(JSON.stringify(steps)).not.toContain(card.code);

    await expectInChain(steps);

    // The operator sees it too; another tenant and a channel do not.
    await app.http.get(`/v1/cards/${card.serial}/trail`).auth(operator, { type: 'bearer' }).expect(200);
    const stranger = await enterpriseWithClient(app, ['cards:read']);
    await app.http.get(`/v1/cards/${card.serial}/trail`).auth(stranger.token, { type: 'bearer' }).expect(404);
    await app.http.get(`/v1/cards/${card.serial}/trail`).auth(channel.token, { type: 'bearer' }).expect(403);
  });

  it('tells which distribution assigned a card to which employee, from the summary written against the digest the reservation committed', async () => {
    const product = await createProduct(app);
    const placed = await placePaidOrder(app, `TRAIL-D-${randomBytes(4).toString('hex')}`, [
      { product_id: product.id, face_value: 10_000, quantity: 2 },
    ]);
    await waitForIssued(app, placed.order.id);
    const hr = await createClient(app, {
      enterprise_id: placed.enterprise.id,
      scopes: ['distributions:write', 'distributions:read', 'cards:read'],
      name: 'trail distributor',
    });
    const token = await app.tokenFor(hr.id, hr.client_secret);
    const created = await post(token, '/v1/distributions', {
      order_id: placed.order.id,
      recipients: [{ employee_ref: 'E-"trail"', channel: 'link', face_value: 10_000 }],
    }).expect(201);
    const serial = (created.body.link_recipients as Array<{ card_serial: string }>)[0].card_serial;

    // The assignments' summary is appended by the audit job (the in-process worker) once the distribution commits.
    const steps = await waitFor(
      async () =>
        (await app.http.get(`/v1/cards/${serial}/trail`).auth(token, { type: 'bearer' }).expect(200)).body
          .steps as Step[],
      (read) => read.length === 2,
      { what: 'the distributed step' },
    );
    expect(steps.map((step) => step.step)).toEqual(['minted', 'distributed']);
    expect(steps[1].summary).toEqual({
      order_id: placed.order.id,
      assignments: [{ row: 1, serial, employee_ref: 'E-"trail"' }],
    });
    const verified = await app.http.get('/v1/admin/audit/verify').auth(operator, { type: 'bearer' }).expect(200);
    expect(verified.body.ok).toBe(true);
  });
  it("tells the export of the card's order, requested to downloaded, each step's hash checked against the chain", async () => {
    const product = await createProduct(app);
    const placed = await placePaidOrder(app, `TRAIL-X-${randomBytes(4).toString('hex')}`, [
      { product_id: product.id, face_value: 10_000, quantity: 2 },
    ]);
    await waitForIssued(app, placed.order.id);
    const [exported] = await cardsWithSecrets(app, placed.order.id);
    const holder = await createClient(app, {
      enterprise_id: placed.enterprise.id,
      scopes: ['cards:secrets', 'cards:read', 'orders:read'],
      name: 'trail ERP',
    });
    const holderToken = await app.tokenFor(holder.id, holder.client_secret);
    const approver = await createClient(app, { enterprise_id: placed.enterprise.id, scopes: ['orders:approve'] });
    const { publicKey } = await generateKey({ userIDs: [{ name: 'ERP', email: 'erp@example.com' }] });
    const keyId = await confirmedExportKey(
      app,
      { registrar: holderToken, approver: await app.tokenFor(approver.id, approver.client_secret) },
      publicKey,
    );
    const created = await app.http
      .post(`/v1/orders/${placed.order.id}/exports`)
      .auth(holderToken, { type: 'bearer' })
      .set('Idempotency-Key', `trail-export-${randomBytes(6).toString('hex')}`)
      .send({ export_key_id: keyId })
      .expect(202);
    const exportId = created.body.id as string;
    let ready: { status: string; download: { token: string } | null } | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      ready = (await app.http.get(`/v1/exports/${exportId}`).auth(holderToken, { type: 'bearer' }).expect(200))
        .body as typeof ready;
      if (ready!.status !== 'pending' && ready!.status !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(ready?.status).toBe('ready');
    await app.http
      .get(`/v1/exports/${exportId}/download`)
      .set('X-Download-Token', ready!.download!.token)
      .buffer(true)
      .parse((response, done) => {
        response.on('data', () => undefined);
        response.on('end', () => done(null, null));
      })
      .expect(200);

    // The download's end is recorded as the stream finishes: read the trail once it is there.
    const exportActions = [
      'card_export.requested',
      'card_export.ready',
      'card_export.link_issued',
      'card_export.download_started',
      'card_export.downloaded',
    ];
    let steps: Step[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const trail = await app.http
        .get(`/v1/cards/${exported.serial}/trail`)
        .auth(holderToken, { type: 'bearer' })
        .expect(200);
      steps = trail.body.steps as Step[];
      if (steps.some((step) => step.action === 'card_export.downloaded')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(steps.map((step) => step.action)).toEqual(['cards.minted', ...exportActions]);
    const exportSteps = steps.filter((step) => step.step === 'exported');
    expect(exportSteps.map((step) => step.action)).toEqual(exportActions);
    for (const step of exportSteps) {
      expect(step).toMatchObject({ object_type: 'card_export', object_id: exportId });
      expect(step.summary).toMatchObject({ order_id: placed.order.id });
    }
    expect(exportSteps[0].actor_client_id).toBe(holder.id);
    expect(JSON.stringify(steps)).not.toContain(exported.code);
    await expectInChain(steps);
  });
});
