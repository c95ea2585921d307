import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decrypt, generateKey, readMessage, type PrivateKey } from 'openpgp';
import { RequestContext } from '../src/common/context/request-context';
import { newId } from '../src/common/ids';
import { ExportBuilder } from '../src/exports/export-builder';
import { ExportsService } from '../src/exports/exports.service';
import { FileStorage } from '../src/storage/file-storage';
import { formatCode, generateCodes, generatePins, serialFromSequence } from '../src/cards/card-code';
import { CardSecrets } from '../src/cards/card-secrets';
import type { JobContext } from '../src/queue/on-job.decorator';
import { startTestApp, TEST_ADMIN_CLIENT_ID, type TestApp } from './support/app';
import { confirmedExportKey } from './support/export-keys';
import { createClient, createEnterprise } from './support/fixtures';
import { binaryBody } from './support/http-body';
import { waitFor } from './support/wait';

interface TestCard {
  serial: string;
  code: string;
  pin: string;
  faceValue: number;
  expiresAt: Date | null;
  anonymous: boolean;
}

/** `gpg` on this machine (the README's decryption command is checked with it when present). */
const GPG = spawnSync('gpg', ['--version']).status === 0;

/** The CSV an export of these cards must decrypt to. */
function expectedCsv(cards: TestCard[]): string {
  const rows = [...cards]
    .sort((a, b) => (BigInt(a.serial) < BigInt(b.serial) ? -1 : 1))
    .map(
      (card) =>
        `${card.serial},${formatCode(card.code)},${card.pin},${card.faceValue},${card.expiresAt?.toISOString() ?? ''}\n`,
    );
  return `serial,code,pin,face_value,expires_at\n${rows.join('')}`;
}

describe('card-secrets exports', () => {
  let app: TestApp;
  let secrets: CardSecrets;
  let publicKey: string;
  let privateKey: PrivateKey;
  let privateArmored: string;
  let enterpriseId: string;
  let secretsToken: string;
  let readerToken: string;
  let otherToken: string;
  let otherEnterpriseId: string;
  let approverToken: string;
  let otherApproverToken: string;
  /** A client holding both cards:secrets and orders:approve: still never confirms its own request. */
  let dualToken: string;
  let keyId: string;
  let otherKeyId: string;

  beforeAll(async () => {
    app = await startTestApp();
    secrets = app.app.get(CardSecrets);
    const pair = await generateKey({ userIDs: [{ name: 'ERP Export', email: 'erp@example.com' }], format: 'object' });
    publicKey = pair.publicKey.armor();
    privateKey = pair.privateKey;
    privateArmored = pair.privateKey.armor();

    const enterprise = await createEnterprise(app);
    enterpriseId = enterprise.id;
    const holder = await createClient(app, { enterprise_id: enterpriseId, scopes: ['cards:secrets', 'orders:read'] });
    secretsToken = await app.tokenFor(holder.id, holder.client_secret);
    const reader = await createClient(app, { enterprise_id: enterpriseId, scopes: ['orders:read', 'cards:read'] });
    readerToken = await app.tokenFor(reader.id, reader.client_secret);
    const approver = await createClient(app, { enterprise_id: enterpriseId, scopes: ['orders:approve'] });
    approverToken = await app.tokenFor(approver.id, approver.client_secret);
    const dual = await createClient(app, { enterprise_id: enterpriseId, scopes: ['cards:secrets', 'orders:approve'] });
    dualToken = await app.tokenFor(dual.id, dual.client_secret);
    const other = await createEnterprise(app);
    otherEnterpriseId = other.id;
    const otherHolder = await createClient(app, { enterprise_id: other.id, scopes: ['cards:secrets'] });
    otherToken = await app.tokenFor(otherHolder.id, otherHolder.client_secret);
    const otherApprover = await createClient(app, { enterprise_id: other.id, scopes: ['orders:approve'] });
    otherApproverToken = await app.tokenFor(otherApprover.id, otherApprover.client_secret);
    keyId = await confirmedExportKey(app, { registrar: secretsToken, approver: approverToken }, publicKey);
    otherKeyId = await confirmedExportKey(app, { registrar: otherToken, approver: otherApproverToken }, publicKey);
  });
  afterAll(async () => {
    await app.close();
  });

  /** Reserves `count` card sequence numbers from the allocator the issuance worker uses too. */
  async function reserveSerials(count: number): Promise<number> {
    // For UPDATE, TypeORM answers [rows, affected].
    const [[row]] = await app.dataSource.query<[Array<{ start: string }>, number]>(
      'UPDATE card_serial_allocator SET next_value = next_value + $1 WHERE id = 1 RETURNING next_value - $1 AS start',
      [count],
    );
    return Number(row.start);
  }

  /**
   * An order as issuance leaves it, written with SQL (the issuance worker has its own tests): the order in
   * `status`, one completed batch per line, and cards with real blind indexes and envelopes. Ledger-neutral,
   * because the e2e teardown verifies the ledger and nobody paid for these: no journal entries, every batch fully
   * minted (so the order owes nothing to unissued_orders) and card balances of 0 (so card_float stays equal to
   * the cards' balances). An export shows no balance.
   */
  async function issuedOrder(
    lines: Array<{ anonymous: boolean; count: number; faceValue?: number }>,
    status = 'issued',
    owner = enterpriseId,
  ): Promise<{ orderId: string; cards: TestCard[] }> {
    const orderId = newId('order');
    const faceTotal = lines.reduce((sum, line) => sum + line.count * (line.faceValue ?? 10_000), 0);
    await app.dataSource.query(
      `INSERT INTO orders (id, enterprise_id, po_number, status, currency, face_total, discount_bps, discount_total,
                           payable, payment_method, created_by_client_id)
       VALUES ($1, $2, $3, $4, 'CNY', $5, 0, 0, $5, 'bank_transfer', 'cli_test')`,
      [orderId, owner, `EXP-${randomInt(1e12)}`, status, faceTotal],
    );
    const cards: TestCard[] = [];
    for (const [index, line] of lines.entries()) {
      const batchId = newId('batch');
      const faceValue = line.faceValue ?? 10_000;
      const expiresAt = line.anonymous ? new Date(Date.UTC(2029, 10, 28, 15, 59, 59, 123)) : null;
      const start = await reserveSerials(line.count);
      await app.dataSource.query(
        `INSERT INTO issuance_batches (id, order_id, enterprise_id, line_no, product_id, card_type, face_value, count,
                                       chunk_size, serial_start, issued_count, status, expires_at, completed_at)
         VALUES ($1, $2, $3, $4, 'prd_test', $5, $6, $7, $7, $8, $7, 'completed', $9, now())`,
        [
          batchId,
          orderId,
          owner,
          index + 1,
          line.anonymous ? 'anonymous' : 'registered',
          faceValue,
          line.count,
          start,
          expiresAt,
        ],
      );
      const codes = generateCodes(line.count);
      const pins = generatePins(line.count);
      const batchCards = codes.map((code, i) => ({
        serial: serialFromSequence(start + i),
        code,
        pin: pins[i],
        faceValue,
        expiresAt,
        anonymous: line.anonymous,
      }));
      await app.dataSource.query(
        `INSERT INTO cards (serial, order_id, batch_id, enterprise_id, card_type, product_id, face_value, balance, status,
                            expires_at, code_hash, secret_ciphertext)
         SELECT serial, $1, $2, $8, $9, 'prd_test', $3, 0, 'issued', $4, code_hash, envelope
           FROM unnest($5::bigint[], $6::bytea[], $7::text[]) AS card(serial, code_hash, envelope)`,
        [
          orderId,
          batchId,
          faceValue,
          expiresAt,
          batchCards.map((card) => card.serial),
          batchCards.map((card) => secrets.blindIndex(card.code)),
          batchCards.map((card) => secrets.seal(card.serial, card.code, card.pin)),
          owner,
          line.anonymous ? 'anonymous' : 'registered',
        ],
      );
      cards.push(...batchCards);
    }
    return { orderId, cards };
  }

  /** An export to the enterprise's confirmed key (the other tenant's own key when asked with its token). */
  const requestExport = (orderId: string, body: Record<string, unknown> = {}, token = secretsToken) =>
    app.http
      .post(`/v1/orders/${orderId}/exports`)
      .auth(token, { type: 'bearer' })
      .send({ export_key_id: token === otherToken ? otherKeyId : keyId, ...body });

  const getExport = (id: string, token = secretsToken) =>
    app.http.get(`/v1/exports/${id}`).auth(token, { type: 'bearer' });

  async function waitUntilReady(id: string) {
    return waitFor(
      async () => (await getExport(id).expect(200)).body,
      (body) => body.status !== 'pending' && body.status !== 'running',
    );
  }

  /** The path and query of a download URL (PUBLIC_URL is not this test server's address). */
  const pathOf = (url: string) => {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  };

  const download = (url: string) => app.http.get(pathOf(url)).buffer(true).parse(binaryBody);

  async function decryptWithLibrary(file: Buffer): Promise<string> {
    const message = await readMessage({ binaryMessage: file });
    const { data } = await decrypt({ message, decryptionKeys: privateKey, format: 'binary' });
    return Buffer.from(data).toString('utf8');
  }

  async function auditActions(objectId: string): Promise<string[]> {
    const rows = await app.dataSource.query<Array<{ action: string }>>(
      'SELECT action FROM audit_records WHERE object_id = $1 ORDER BY seq',
      [objectId],
    );
    return rows.map((row) => row.action);
  }

  /** The versions of an export's file in the file store (stored_files), oldest first. */
  async function storedVersions(exportId: string): Promise<Array<{ id: string; status: string }>> {
    return app.dataSource.query('SELECT id, status FROM stored_files WHERE key = $1 ORDER BY created_at, id', [
      `exports/${exportId}.pgp`,
    ]);
  }

  it('exports an issued order to a file that decrypts to its cards, once', async () => {
    const { orderId, cards } = await issuedOrder([
      { anonymous: true, count: 180, faceValue: 10_000 },
      { anonymous: false, count: 120, faceValue: 200_000 },
    ]);
    const key = `export-${randomInt(1e12)}`;
    const created = await requestExport(orderId).set('Idempotency-Key', key).expect(202);
    expect(created.body).toMatchObject({
      object: 'card_export',
      order_id: orderId,
      status: 'pending',
      export_key_id: keyId,
      purge_anonymous_after_export: false,
      encryption: { format: 'openpgp', recipient_fingerprint: expect.stringMatching(/^[0-9a-f]{40}$/) },
      manifest: null,
      download: null,
    });
    expect(JSON.stringify(created.body)).not.toContain('PUBLIC KEY BLOCK');
    const replay = await requestExport(orderId).set('Idempotency-Key', key).expect(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.id).toBe(created.body.id);

    const ready = await waitUntilReady(created.body.id);
    expect(ready.status).toBe('ready');
    const csv = expectedCsv(cards);
    expect(ready.manifest).toEqual({
      row_count: 300,
      plaintext_sha256: createHash('sha256').update(csv).digest('hex'),
      size_bytes: expect.any(Number),
      columns: ['serial', 'code', 'pin', 'face_value', 'expires_at'],
      file_name: `fuli-cards-${orderId}.csv.pgp`,
      content_type: 'application/pgp-encrypted',
      created_at: expect.any(String),
    });
    expect(ready.download).toEqual({
      url: expect.stringContaining(`/v1/exports/${created.body.id}/download?token=`),
      token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expires_at: expect.any(String),
    });

    // HEAD checks the link without using it.
    const head = await app.http.head(pathOf(ready.download.url)).expect(200);
    expect(head.headers['content-length']).toBe(String(ready.manifest.size_bytes));

    const file = await download(ready.download.url).expect(200);
    expect(file.headers['content-type']).toBe('application/pgp-encrypted');
    expect(file.headers['content-disposition']).toBe(`attachment; filename="fuli-cards-${orderId}.csv.pgp"`);
    expect(file.headers['cache-control']).toBe('no-store');
    const body = file.body as Buffer;
    expect(body.length).toBe(ready.manifest.size_bytes);
    const plaintext = await decryptWithLibrary(body);
    expect(plaintext).toBe(csv);
    expect(createHash('sha256').update(plaintext).digest('hex')).toBe(ready.manifest.plaintext_sha256);

    if (GPG) {
      // The README's command: gpg --decrypt with the recipient's private key.
      const home = mkdtempSync(join(tmpdir(), 'fuli-gpg-'));
      try {
        execFileSync('gpg', ['--homedir', home, '--batch', '--quiet', '--import'], {
          input: privateArmored,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        writeFileSync(join(home, 'export.csv.pgp'), body);
        const decrypted = execFileSync('gpg', [
          '--homedir',
          home,
          '--batch',
          '--quiet',
          '--decrypt',
          join(home, 'export.csv.pgp'),
        ]);
        expect(decrypted.toString('utf8')).toBe(csv);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    } else {
      console.warn('gpg is not installed: the export was decrypted with OpenPGP.js only');
    }

    // Once the response has completed, the download is recorded, the file deleted and the link used up.
    const { body: after } = await waitFor(
      async () => ({
        body: (await getExport(created.body.id).expect(200)).body,
        stored: (await storedVersions(created.body.id)).length,
      }),
      (value) => value.body.status === 'downloaded' && value.stored === 0,
    );
    expect(after.download).toBeNull();
    expect(after.downloaded_at).toEqual(expect.any(String));
    await waitFor(
      () => auditActions(created.body.id),
      (actions) => actions.includes('card_export.downloaded'),
    );
    const again = await app.http.get(pathOf(ready.download.url)).expect(410);
    expect(again.body).toMatchObject({ code: 'export_link_used', status: 410 });
    expect(await auditActions(created.body.id)).toEqual([
      'card_export.requested',
      'card_export.ready',
      'card_export.link_issued',
      'card_export.download_started',
      'card_export.downloaded',
    ]);
    const [started] = await app.dataSource.query<Array<{ actor_client_id: string | null; data: { summary: object } }>>(
      "SELECT actor_client_id, data FROM audit_records WHERE object_id = $1 AND action = 'card_export.download_started'",
      [created.body.id],
    );
    expect(started.data.summary).toMatchObject({ order_id: orderId, ip: '127.0.0.1' });
    // Nothing of the secrets in the audit trail.
    const trail = JSON.stringify(
      await app.dataSource.query('SELECT data FROM audit_records WHERE object_id = $1', [created.body.id]),
    );
    for (const card of cards) expect(trail).not.toContain(card.code);
  });

  it('answers 410 for an expired link and 404 for a revoked or unknown token; a new GET issues a new link', async () => {
    const { orderId, cards } = await issuedOrder([{ anonymous: true, count: 20 }]);
    const created = await requestExport(orderId).expect(202);
    const first = await waitUntilReady(created.body.id);
    await app.dataSource.query(
      "UPDATE card_exports SET download_expires_at = now() - interval '1 minute' WHERE id = $1",
      [created.body.id],
    );
    const expired = await app.http.get(pathOf(first.download.url)).expect(410);
    expect(expired.body).toMatchObject({ code: 'export_link_expired' });

    const second = (await getExport(created.body.id).expect(200)).body;
    expect(second.status).toBe('ready');
    expect(second.download.token).not.toBe(first.download.token);
    // The earlier link was revoked by the new one; a made-up token is unknown alike.
    await app.http.get(pathOf(first.download.url)).expect(404);
    await app.http
      .get(`/v1/exports/${created.body.id}/download`)
      .query({ token: 'A'.repeat(43) })
      .expect(404);
    await app.http.get(`/v1/exports/${created.body.id}/download`).query({ token: 'short' }).expect(400);
    const file = await download(second.download.url).expect(200);
    expect(await decryptWithLibrary(file.body as Buffer)).toBe(expectedCsv(cards));
  });

  it('takes the download token in the X-Download-Token header, so that no URL carries it', async () => {
    const { orderId, cards } = await issuedOrder([{ anonymous: true, count: 12 }]);
    const created = await requestExport(orderId).expect(202);
    const ready = await waitUntilReady(created.body.id);
    const path = `/v1/exports/${created.body.id}/download`;
    // No token at all, a malformed one, or a header and a link that disagree: refused before any lookup.
    expect((await app.http.get(path).expect(400)).body.code).toBe('download_token_required');
    expect((await app.http.get(path).set('X-Download-Token', 'short').expect(400)).body.code).toBe('validation_failed');
    await app.http.get(path).query({ token: ready.download.token }).set('X-Download-Token', 'B'.repeat(43)).expect(400);
    // Someone else's guess is unknown, as in the link form.
    await app.http.get(path).set('X-Download-Token', 'A'.repeat(43)).expect(404);

    const head = await app.http.head(path).set('X-Download-Token', ready.download.token).expect(200);
    expect(head.headers['content-length']).toBe(String(ready.manifest.size_bytes));
    const file = await app.http
      .get(path)
      .set('X-Download-Token', ready.download.token)
      .buffer(true)
      .parse(binaryBody)
      .expect(200);
    expect(await decryptWithLibrary(file.body as Buffer)).toBe(expectedCsv(cards));
    // Single use either way: the link form of the same token is used up as well.
    await waitFor(
      () => auditActions(created.body.id),
      (actions) => actions.includes('card_export.downloaded'),
    );
    expect((await app.http.get(path).set('X-Download-Token', ready.download.token).expect(410)).body.code).toBe(
      'export_link_used',
    );
    expect((await app.http.get(pathOf(ready.download.url)).expect(410)).body.code).toBe('export_link_used');
  });

  it('deletes a file nobody downloaded once its retention has passed', async () => {
    const { orderId } = await issuedOrder([{ anonymous: true, count: 3 }]);
    const created = await requestExport(orderId).expect(202);
    const ready = await waitUntilReady(created.body.id);
    await app.dataSource.query("UPDATE card_exports SET completed_at = now() - interval '8 days' WHERE id = $1", [
      created.body.id,
    ]);
    const expired = (await getExport(created.body.id).expect(200)).body;
    expect(expired).toMatchObject({ status: 'expired', download: null });
    expect((await app.http.get(pathOf(ready.download.url)).expect(410)).body.code).toBe('export_link_expired');
    // The sweep records the deletion, then deletes the file.
    await waitFor(
      async () => ({
        actions: await auditActions(created.body.id),
        file: (await storedVersions(created.body.id)).length > 0,
      }),
      ({ actions, file }) => actions.includes('card_export.file_deleted') && !file,
    );
  });

  it('keeps the link usable after an interrupted download', async () => {
    const { orderId, cards } = await issuedOrder([{ anonymous: true, count: 50 }]);
    const created = await requestExport(orderId).expect(202);
    const ready = await waitUntilReady(created.body.id);
    // What the controller does when the client hangs up mid-way ('close' before 'finish'), driven directly: over
    // loopback the kernel buffers would often take the whole file before a test client could hang up.
    const service = app.app.get(ExportsService);
    const ctx = new RequestContext('req_interrupted', null, '127.0.0.1');
    const opened = await service.openDownload(ctx, created.body.id, ready.download.token);
    // Claimed: a second download meanwhile is refused.
    expect((await app.http.get(pathOf(ready.download.url)).expect(410)).body.code).toBe('export_link_used');
    opened.stream!.destroy();
    await opened.finish(false);
    expect((await auditActions(created.body.id)).slice(-2)).toEqual([
      'card_export.download_started',
      'card_export.download_interrupted',
    ]);
    // (Read with SQL: a GET would issue a new link and revoke this one.)
    const [row] = await app.dataSource.query<Array<{ downloaded_at: Date | null; storage_path: string | null }>>(
      'SELECT downloaded_at, storage_path FROM card_exports WHERE id = $1',
      [created.body.id],
    );
    expect(row).toEqual({ downloaded_at: null, storage_path: expect.any(String) });
    const file = await download(ready.download.url).expect(200);
    expect(await decryptWithLibrary(file.body as Buffer)).toBe(expectedCsv(cards));
  });

  it('refuses an order that is not issued yet (409 invalid_state)', async () => {
    const { orderId } = await issuedOrder([{ anonymous: true, count: 1 }], 'pending_payment');
    const refused = await requestExport(orderId).expect(409);
    expect(refused.body).toMatchObject({
      code: 'invalid_state',
      status: 409,
      order_id: orderId,
      order_status: 'pending_payment',
    });
  });

  it('needs the cards:secrets scope (403)', async () => {
    const { orderId } = await issuedOrder([{ anonymous: true, count: 1 }]);
    const refused = await requestExport(orderId, {}, readerToken).expect(403);
    expect(refused.body.code).toBe('insufficient_scope');
    const created = await requestExport(orderId).expect(202);
    await getExport(created.body.id, readerToken).expect(403);
    await waitUntilReady(created.body.id);
  });

  it('builds one export of an order at a time (409 export_in_progress)', async () => {
    const { orderId } = await issuedOrder([{ anonymous: true, count: 1 }]);
    const created = await requestExport(orderId).expect(202);
    await waitUntilReady(created.body.id);
    // Held in `running` (as while a large one builds); ready again afterwards.
    await app.dataSource.query("UPDATE card_exports SET status = 'running' WHERE id = $1", [created.body.id]);
    const busy = await requestExport(orderId).expect(409);
    expect(busy.body).toMatchObject({ code: 'export_in_progress', export_id: created.body.id });
    await app.dataSource.query("UPDATE card_exports SET status = 'ready' WHERE id = $1", [created.body.id]);
    await requestExport(orderId).expect(202);
  });

  it("hides another tenant's orders and exports (404)", async () => {
    const { orderId } = await issuedOrder([{ anonymous: true, count: 2 }]);
    const foreign = await requestExport(orderId, {}, otherToken).expect(404);
    expect(foreign.body.code).toBe('resource_not_found');
    const created = await requestExport(orderId).expect(202);
    await getExport(created.body.id, otherToken).expect(404);
    await waitUntilReady(created.body.id);
    // And the other tenant's own order is exportable by it.
    const theirs = await issuedOrder([{ anonymous: true, count: 1 }], 'issued', otherEnterpriseId);
    await requestExport(theirs.orderId, {}, otherToken).expect(202);
    await requestExport(theirs.orderId).expect(404);
  });

  describe('export keys', () => {
    const register = (armored: string, token = secretsToken) =>
      app.http.post('/v1/export-keys').auth(token, { type: 'bearer' }).send({ public_key: armored, label: 'ERP' });
    const confirm = (id: string, fingerprint: string, token = approverToken) =>
      app.http.post(`/v1/export-keys/${id}/confirm`).auth(token, { type: 'bearer' }).send({ fingerprint });

    it('exports only to a key of the enterprise that a second client confirmed; revoked keys are refused', async () => {
      const pair = await generateKey({
        userIDs: [{ name: 'Second ERP', email: 'erp2@example.com' }],
        format: 'object',
      });
      const armored = pair.publicKey.armor();
      const { orderId, cards } = await issuedOrder([{ anonymous: true, count: 8 }]);

      // A key in the request, or no key at all, is not accepted any more.
      const sent = await app.http
        .post(`/v1/orders/${orderId}/exports`)
        .auth(secretsToken, { type: 'bearer' })
        .send({ recipient_public_key: armored });
      expect(sent.status).toBe(422);
      expect(sent.body.code).toBe('export_key_required');
      expect((await requestExport(orderId, { export_key_id: undefined }).expect(422)).body.code).toBe(
        'export_key_required',
      );
      const unknown = await requestExport(orderId, { export_key_id: 'xpk_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' }).expect(422);
      expect(unknown.body.code).toBe('export_key_not_found');
      // Another enterprise's confirmed key is unknown here.
      expect((await requestExport(orderId, { export_key_id: otherKeyId }).expect(422)).body.code).toBe(
        'export_key_not_found',
      );

      const registered = await register(armored).expect(201);
      expect(registered.body).toMatchObject({
        object: 'export_key',
        enterprise_id: enterpriseId,
        status: 'pending_confirmation',
        fingerprint: pair.publicKey.getFingerprint(),
        user_ids: ['Second ERP <erp2@example.com>'],
        confirmed_by_client_id: null,
      });
      expect(JSON.stringify(registered.body)).not.toContain('PUBLIC KEY BLOCK');
      const id = registered.body.id as string;
      expect((await register(armored).expect(409)).body).toMatchObject({
        code: 'export_key_exists',
        export_key_id: id,
      });
      const pending = await requestExport(orderId, { export_key_id: id }).expect(422);
      expect(pending.body).toMatchObject({ code: 'export_key_not_confirmed', export_key_id: id });

      // Readable by the enterprise's secrets and approving clients, not by others.
      const listed = await app.http.get('/v1/export-keys').auth(approverToken, { type: 'bearer' }).expect(200);
      expect(listed.body.data.map((key: { id: string }) => key.id)).toContain(id);
      await app.http.get(`/v1/export-keys/${id}`).auth(secretsToken, { type: 'bearer' }).expect(200);
      await app.http.get(`/v1/export-keys/${id}`).auth(readerToken, { type: 'bearer' }).expect(403);
      await app.http.get(`/v1/export-keys/${id}`).auth(otherToken, { type: 'bearer' }).expect(404);

      // Confirming: not by the registering client (nor without orders:approve), not from another enterprise, and
      // only with the registered key's fingerprint.
      expect((await confirm(id, registered.body.fingerprint, secretsToken).expect(403)).body.code).toBe(
        'insufficient_scope',
      );
      const own = (await register((await generateKey({ userIDs: [{ name: 'Own' }] })).publicKey, dualToken).expect(201))
        .body;
      expect((await confirm(own.id, own.fingerprint, dualToken).expect(403)).body.code).toBe(
        'self_confirmation_not_allowed',
      );
      await confirm(id, registered.body.fingerprint, otherApproverToken).expect(404);
      expect((await confirm(id, 'ab'.repeat(20)).expect(422)).body.code).toBe('fingerprint_mismatch');
      // As gpg --fingerprint shows it: upper case, in groups.
      const shown = (registered.body.fingerprint as string).toUpperCase().replace(/(.{4})/g, '$1 ');
      const confirmed = await confirm(id, shown).expect(200);
      expect(confirmed.body).toMatchObject({ status: 'confirmed', confirmed_by_client_id: expect.any(String) });
      expect((await confirm(id, registered.body.fingerprint).expect(409)).body.code).toBe('invalid_state');
      // The operator confirms as well.
      const byOperator = await confirm(own.id, own.fingerprint, await app.operatorToken()).expect(200);
      expect(byOperator.body.confirmed_by_client_id).toBe(TEST_ADMIN_CLIENT_ID);

      const created = await requestExport(orderId, { export_key_id: id }).expect(202);
      expect(created.body).toMatchObject({
        export_key_id: id,
        encryption: { recipient_fingerprint: pair.publicKey.getFingerprint() },
      });
      const ready = await waitUntilReady(created.body.id);
      const file = await download(ready.download.url).expect(200);
      const message = await readMessage({ binaryMessage: file.body as Buffer });
      const { data } = await decrypt({ message, decryptionKeys: pair.privateKey, format: 'binary' });
      expect(Buffer.from(data).toString('utf8')).toBe(expectedCsv(cards));

      const revoked = await app.http.post(`/v1/export-keys/${id}/revoke`).auth(approverToken, { type: 'bearer' });
      expect(revoked.status).toBe(200);
      expect(revoked.body).toMatchObject({ status: 'revoked', revoked_at: expect.any(String) });
      expect((await requestExport(orderId, { export_key_id: id }).expect(422)).body.code).toBe('export_key_revoked');
      // Revoked, the same key may be registered again (pending a new confirmation).
      expect((await register(armored).expect(201)).body.status).toBe('pending_confirmation');
      expect(await auditActions(id)).toEqual(['export_key.registered', 'export_key.confirmed', 'export_key.revoked']);

      // A build that had not finished when the key was revoked stops: nothing more is encrypted to it.
      await app.dataSource.query(
        `UPDATE card_exports SET status = 'running', completed_at = NULL, storage_path = NULL, size_bytes = NULL,
                downloaded_at = NULL WHERE id = $1`,
        [created.body.id],
      );
      const job = { attemptsMade: 0, opts: { attempts: 1 } } as unknown as JobContext;
      await expect(app.app.get(ExportBuilder).build({ exportId: created.body.id }, job)).rejects.toThrow(
        /no longer confirmed/,
      );
      const failed = (await getExport(created.body.id).expect(200)).body;
      expect(failed).toMatchObject({ status: 'failed' });
      expect(failed.failure_reason).toMatch(/^export_key_revoked: /);
    });

    it('refuses keys it cannot encrypt to (422)', async () => {
      const garbage = await register('not a key').expect(422);
      expect(garbage.body.code).toBe('invalid_recipient_key');
      const secret = await register(privateArmored).expect(422);
      expect(secret.body.code).toBe('private_key_given');
      expect(JSON.stringify(secret.body)).not.toContain('PRIVATE KEY BLOCK');
      await app.http
        .post('/v1/export-keys')
        .auth(secretsToken, { type: 'bearer' })
        .send({ public_key: publicKey, unknown: true })
        .expect(400);
      // Registering needs cards:secrets.
      await register(publicKey, approverToken).expect(403);
    });
  });

  it("purges the anonymous cards' ciphertexts after the export once a second client confirms, keeping their blind index", async () => {
    const { orderId, cards } = await issuedOrder([
      { anonymous: true, count: 150 },
      { anonymous: false, count: 50, faceValue: 200_000 },
    ]);
    const created = await requestExport(orderId, { purge_anonymous_after_export: true }, dualToken).expect(202);
    expect(created.body).toMatchObject({ status: 'awaiting_purge_confirmation', purge_confirmed_by_client_id: null });
    const confirmPurge = (token: string) =>
      app.http.post(`/v1/exports/${created.body.id}/confirm-purge`).auth(token, { type: 'bearer' });
    // Nothing is built, nothing purged, while it waits.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await getExport(created.body.id).expect(200)).body).toMatchObject({
      status: 'awaiting_purge_confirmation',
      manifest: null,
    });
    const [{ purged: before }] = await app.dataSource.query<Array<{ purged: number }>>(
      'SELECT count(*) FILTER (WHERE secret_ciphertext IS NULL)::int AS purged FROM cards WHERE order_id = $1',
      [orderId],
    );
    expect(before).toBe(0);
    // Not by the requesting client, even with orders:approve; not without orders:approve; not by another tenant.
    expect((await confirmPurge(dualToken).expect(403)).body.code).toBe('self_confirmation_not_allowed');
    expect((await confirmPurge(secretsToken).expect(403)).body.code).toBe('insufficient_scope');
    await confirmPurge(otherApproverToken).expect(404);
    const confirmed = await confirmPurge(approverToken).expect(200);
    expect(confirmed.body).toMatchObject({ status: 'pending', purge_confirmed_by_client_id: expect.any(String) });
    expect((await confirmPurge(approverToken).expect(409)).body.code).toBe('invalid_state');
    const ready = await waitUntilReady(created.body.id);
    expect(ready).toMatchObject({ status: 'ready', purge_anonymous_after_export: true });
    expect(await auditActions(created.body.id)).toEqual([
      'card_export.requested',
      'card_export.purge_confirmed',
      'card_export.ready',
      'card_export.link_issued',
    ]);

    const counts = await app.dataSource.query<Array<{ card_type: string; purged: number; kept: number }>>(
      `SELECT b.card_type, count(*) FILTER (WHERE c.secret_ciphertext IS NULL)::int AS purged,
              count(*) FILTER (WHERE c.secret_ciphertext IS NOT NULL)::int AS kept
         FROM cards c JOIN issuance_batches b ON b.id = c.batch_id
        WHERE c.order_id = $1 GROUP BY b.card_type ORDER BY b.card_type`,
      [orderId],
    );
    expect(counts).toEqual([
      { card_type: 'anonymous', purged: 150, kept: 0 },
      { card_type: 'registered', purged: 0, kept: 50 },
    ]);
    const anonymous = cards.find((card) => card.anonymous)!;
    const [lookup] = await app.dataSource.query<Array<{ serial: string }>>(
      'SELECT serial::text FROM cards WHERE code_hash = $1',
      [secrets.blindIndex(anonymous.code)],
    );
    expect(lookup.serial).toBe(anonymous.serial);
    const [purge] = await app.dataSource.query<Array<{ data: { summary: Record<string, unknown> } }>>(
      "SELECT data FROM audit_records WHERE object_id = $1 AND action = 'cards.secrets_purged'",
      [orderId],
    );
    expect(purge.data.summary).toEqual({ export_id: created.body.id, card_type: 'anonymous', cards: 150 });

    // The file still holds every code: it is now their only copy.
    const file = await download(ready.download.url).expect(200);
    expect(await decryptWithLibrary(file.body as Buffer)).toBe(expectedCsv(cards));
    const again = await requestExport(orderId).expect(409);
    expect(again.body.code).toBe('card_secrets_purged');
  });

  describe('the build-export job', () => {
    const job = { attemptsMade: 0, opts: { attempts: 1 } } as unknown as JobContext;

    it('rebuilds a half-written file, resumes a finished one and leaves a ready export alone', async () => {
      const { orderId, cards } = await issuedOrder([{ anonymous: true, count: 60 }]);
      const created = await requestExport(orderId).expect(202);
      const ready = await waitUntilReady(created.body.id);
      const builder = app.app.get(ExportBuilder);

      // Re-running a built export does nothing.
      const built = await storedVersions(created.body.id);
      expect(built).toEqual([{ id: expect.stringMatching(/^fil_/), status: 'complete' }]);
      await expect(builder.build({ exportId: created.body.id }, job)).resolves.toEqual({ status: 'ready' });
      expect(await storedVersions(created.body.id)).toEqual(built);

      // A crash after the file was complete but before `ready`: the file is kept, the export finished.
      await app.dataSource.query("UPDATE card_exports SET status = 'running', completed_at = NULL WHERE id = $1", [
        created.body.id,
      ]);
      await expect(builder.build({ exportId: created.body.id }, job)).resolves.toEqual({ status: 'ready' });
      expect(await storedVersions(created.body.id)).toEqual(built);

      // A crash mid-write: a version still `writing` (invisible), no manifest. The next run writes the file afresh.
      await app.dataSource.query(
        `UPDATE card_exports SET status = 'running', completed_at = NULL, storage_path = NULL, row_count = NULL,
                plaintext_sha256 = NULL, size_bytes = NULL WHERE id = $1`,
        [created.body.id],
      );
      await app.dataSource.query('DELETE FROM stored_files WHERE id = $1', [built[0].id]);
      const abandoned = newId('storedFile');
      await app.dataSource.query(
        `INSERT INTO stored_files (id, key, status, created_at) VALUES ($1, $2, 'writing', now() - interval '2 days')`,
        [abandoned, `exports/${created.body.id}.pgp`],
      );
      await app.dataSource.query("INSERT INTO stored_file_chunks (file_id, seq, data) VALUES ($1, 0, 'half a file')", [
        abandoned,
      ]);
      await expect(builder.build({ exportId: created.body.id }, job)).resolves.toEqual({ status: 'ready' });
      // The dead writer's version stays invisible until the purge deletes it (a day after it began).
      expect(await storedVersions(created.body.id)).toEqual([
        { id: abandoned, status: 'writing' },
        { id: expect.not.stringMatching(built[0].id), status: 'complete' },
      ]);
      await app.app.get(FileStorage).purgeExpired();
      expect(await storedVersions(created.body.id)).toEqual([{ id: expect.any(String), status: 'complete' }]);
      const rebuilt = (await getExport(created.body.id).expect(200)).body;
      expect(rebuilt.manifest.plaintext_sha256).toBe(ready.manifest.plaintext_sha256);
      const file = await download(rebuilt.download.url).expect(200);
      expect(await decryptWithLibrary(file.body as Buffer)).toBe(expectedCsv(cards));
    });

    it('fails an export whose cards cannot be opened, for good and without a file', async () => {
      const { orderId } = await issuedOrder([{ anonymous: true, count: 5 }]);
      // An envelope copied onto another card does not open (the serial is bound to it).
      await app.dataSource.query(
        `UPDATE cards SET secret_ciphertext = (SELECT secret_ciphertext FROM cards c2 WHERE c2.order_id = $1
                                                ORDER BY serial LIMIT 1)
          WHERE order_id = $1 AND serial = (SELECT max(serial) FROM cards WHERE order_id = $1)`,
        [orderId],
      );
      const created = await requestExport(orderId).expect(202);
      const failed = await waitUntilReady(created.body.id);
      expect(failed).toMatchObject({ status: 'failed', manifest: null, download: null });
      expect(failed.failure_reason).toMatch(/^card_secret_unreadable: card \d+: /);
      expect(await storedVersions(created.body.id)).toEqual([]);
      expect(await auditActions(created.body.id)).toEqual(['card_export.requested', 'card_export.failed']);
    });
  });
});
