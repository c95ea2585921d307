import { randomBytes } from 'node:crypto';
import { DataCipher } from '../common/crypto/data-cipher.service';
import { storedResponseContext } from '../idempotency/idempotency.interceptor';
import { AppConfig } from '../config/app-config';
import { generateCodes, generatePins, serialFromSequence } from '../cards/card-code';
import { CardSecrets } from '../cards/card-secrets';
import { purchaserEnvelopeContext } from '../orders/purchaser-identity';
import { realNameEnvelopeContext } from '../distribution/recipient-rows';
import { secretContext } from '../webhooks/webhook-delivery.service';
import { paymentCodeSecretContext } from '../redemption/payment-code-keys';
import { sealV1 } from '../../test/support/v1-envelope';
import {
  censusSql,
  dataKeyIdOf,
  isUnreadable,
  LEGACY_FORMAT_LABEL,
  pageSql,
  resealSql,
  SEALED_COLUMN_NAMES,
  SealedColumns,
} from './sealed-columns';

const pepper = randomBytes(32).toString('base64');
const k1Bytes = randomBytes(32).toString('base64');
const k2Bytes = randomBytes(32).toString('base64');
const k1 = `k1:${k1Bytes}`;
const k2 = `k2:${k2Bytes}`;
const servicesWith = (keys: string) => {
  const config = Object.assign(new AppConfig(), { CODE_PEPPER: pepper, DATA_ENCRYPTION_KEYS: keys });
  const cipher = new DataCipher(config);
  return { cipher, secrets: new CardSecrets(config, cipher) };
};

describe('SealedColumns', () => {
  const old = servicesWith(k1);
  const rotated = servicesWith(`${k2},${k1}`);
  const columns = new SealedColumns(rotated.cipher, rotated.secrets);
  const column = (name: string) => columns.all.find((c) => c.name === name)!;

  it('lists every encrypted column once, in walking order', () => {
    expect(columns.all.map((c) => c.name)).toEqual([...SEALED_COLUMN_NAMES]);
  });

  it('reseals each column with the associated data its writer binds: the row keeps its envelope valid', () => {
    const serial = serialFromSequence(10_000_000_123);
    const [code] = generateCodes(1);
    const [pin] = generatePins(1);
    const cases = [
      {
        column: column('cards.secret_ciphertext'),
        key: [serial],
        envelope: old.secrets.seal(serial, code, pin),
        open: (envelope: string) => rotated.secrets.open(serial, envelope),
        expected: { code, pin },
        otherRow: [serialFromSequence(10_000_000_124)],
      },
      {
        column: column('orders.purchaser_ciphertext'),
        key: ['ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB'],
        envelope: old.cipher.encrypt('{"name":"张三"}', purchaserEnvelopeContext('ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB')),
        open: (envelope: string) =>
          rotated.cipher.decrypt(envelope, purchaserEnvelopeContext('ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB')),
        expected: '{"name":"张三"}',
        otherRow: ['ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAC'],
      },
      {
        column: column('idempotency_keys.response_body'),
        key: ['cli_abc123', 'po-42'],
        envelope: old.cipher.encrypt('{"id":"ord_1"}', storedResponseContext('cli_abc123', 'po-42')),
        open: (envelope: string) => rotated.cipher.decrypt(envelope, storedResponseContext('cli_abc123', 'po-42')),
        expected: '{"id":"ord_1"}',
        otherRow: ['cli_abc123', 'po-43'],
      },
      ...(['webhook_endpoints.secret_sealed', 'webhook_endpoints.previous_secret_sealed'] as const).map((name) => ({
        column: column(name),
        key: ['whe_01JDQ6ZK6Y8V3N2M4T5R7W9XAB'],
        envelope: old.cipher.encrypt('whsec_c2VjcmV0', secretContext('whe_01JDQ6ZK6Y8V3N2M4T5R7W9XAB')),
        open: (envelope: string) => rotated.cipher.decrypt(envelope, secretContext('whe_01JDQ6ZK6Y8V3N2M4T5R7W9XAB')),
        expected: 'whsec_c2VjcmV0',
        otherRow: ['whe_01JDQ6ZK6Y8V3N2M4T5R7W9XAC'],
      })),
      {
        column: column('distribution_recipients.real_name_sealed'),
        key: ['drc_01JDQ6ZK6Y8V3N2M4T5R7W9XAB'],
        envelope: old.cipher.encrypt('{"name":"张三"}', realNameEnvelopeContext('drc_01JDQ6ZK6Y8V3N2M4T5R7W9XAB')),
        open: (envelope: string) =>
          rotated.cipher.decrypt(envelope, realNameEnvelopeContext('drc_01JDQ6ZK6Y8V3N2M4T5R7W9XAB')),
        expected: '{"name":"张三"}',
        otherRow: ['drc_01JDQ6ZK6Y8V3N2M4T5R7W9XAC'],
      },
      {
        column: column('distribution_file_rows.real_name_sealed'),
        key: ['drc_01JDQ6ZK6Y8V3N2M4T5R7W9XAD'],
        envelope: old.cipher.encrypt('{"name":"张三"}', realNameEnvelopeContext('drc_01JDQ6ZK6Y8V3N2M4T5R7W9XAD')),
        open: (envelope: string) =>
          rotated.cipher.decrypt(envelope, realNameEnvelopeContext('drc_01JDQ6ZK6Y8V3N2M4T5R7W9XAD')),
        expected: '{"name":"张三"}',
        otherRow: ['drc_01JDQ6ZK6Y8V3N2M4T5R7W9XAE'],
      },
      {
        column: column('payment_code_keys.secret_sealed'),
        key: ['123456789'],
        envelope: old.cipher.encrypt('c2VjcmV0', paymentCodeSecretContext('123456789')),
        open: (envelope: string) => rotated.cipher.decrypt(envelope, paymentCodeSecretContext('123456789')),
        expected: 'c2VjcmV0',
        otherRow: ['123456790'],
      },
    ];
    for (const { column: c, key, envelope, open, expected, otherRow } of cases) {
      const fresh = c.reseal(key, envelope);
      expect(DataCipher.keyIdOf(fresh)).toBe('k2');
      expect(open(fresh)).toEqual(expected);
      // Re-sealing for another row would rebind it: refused as unreadable instead.
      let refused: unknown;
      try {
        c.reseal(otherRow, envelope);
      } catch (error) {
        refused = error;
      }
      expect(isUnreadable(refused)).toBe(true);
    }
    expect(isUnreadable(new Error('connection reset'))).toBe(false);
  });

  it('moves v1 (AES-GCM) envelopes to v2 even under the active key, with the same associated data', () => {
    const orderId = 'ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB';
    const serial = serialFromSequence(10_000_000_125);
    const [code] = generateCodes(1);
    const [pin] = generatePins(1);
    for (const keyId of ['k1', 'k2']) {
      const raw = keyId === 'k1' ? k1Bytes : k2Bytes;
      const purchaser = sealV1(keyId, raw, '{"name":"张三"}', purchaserEnvelopeContext(orderId));
      expect(rotated.cipher.isStale(purchaser)).toBe(true);
      const fresh = column('orders.purchaser_ciphertext').reseal([orderId], purchaser);
      expect(fresh.startsWith(DataCipher.currentPrefix('k2'))).toBe(true);
      expect(rotated.cipher.decrypt(fresh, purchaserEnvelopeContext(orderId))).toBe('{"name":"张三"}');
      const card = sealV1(keyId, raw, `${code}|${pin}`, `cards.code:${serial}`);
      expect(rotated.secrets.needsReseal(card)).toBe(true);
      const resealed = column('cards.secret_ciphertext').reseal([serial], card);
      expect(resealed.startsWith(DataCipher.currentPrefix('k2'))).toBe(true);
      expect(rotated.secrets.open(serial, resealed)).toEqual({ code, pin });
    }
    // Stale means anything but `v2.<target>.`; the census names a v1 envelope's key `v1:<key id>`.
    const purchaser = column('orders.purchaser_ciphertext');
    expect(purchaser.stalenessParam('k2')).toBe('v2.k2.');
    expect(censusSql(purchaser)).toContain(`'${LEGACY_FORMAT_LABEL}'`);
    expect(dataKeyIdOf('v1:k1')).toBe('k1');
    expect(dataKeyIdOf('k1')).toBe('k1');
  });

  it('pages by the whole primary key and updates only rows that still hold the envelope read', () => {
    const idempotency = column('idempotency_keys.response_body');
    expect(pageSql(idempotency, true)).toContain('WHERE (t."client_id", t."key") > ($3::text, $4::text)');
    expect(pageSql(idempotency, true)).toContain('ORDER BY t."client_id", t."key"');
    expect(pageSql(idempotency, false)).not.toContain('WHERE');
    expect(pageSql(column('cards.secret_ciphertext'), true)).toContain('WHERE (t."serial") > ($3::bigint)');
    const update = resealSql(idempotency);
    expect(update).toContain('unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(k0, k1, stale, fresh)');
    expect(update).toContain("(t.response_body ->> 'sealed') = v.stale");
    expect(resealSql(column('cards.secret_ciphertext'))).toContain('t.secret_ciphertext = v.stale');
    expect(censusSql(column('orders.purchaser_ciphertext'))).toContain("split_part(t.purchaser_ciphertext, '.', 2)");
  });

  it("re-indexes a card's blind index and PIN digest under the current pepper, from its envelope", () => {
    const p1 = randomBytes(32).toString('base64');
    const repeppered = (() => {
      const config = Object.assign(new AppConfig(), { CODE_PEPPER: `p1:${p1},p0:${pepper}`, DATA_ENCRYPTION_KEYS: k1 });
      const cipher = new DataCipher(config);
      return { cipher, secrets: new CardSecrets(config, cipher) };
    })();
    const index = new SealedColumns(repeppered.cipher, repeppered.secrets).all.find(
      (c) => c.name === 'cards.code_hash',
    )!;
    expect(index.keys).toBe('code_pepper');
    const serial = serialFromSequence(10_000_000_125);
    const [code] = generateCodes(1);
    const envelope = old.secrets.seal(serial, code, '123456');
    const [keyId, codeHash, pinHash] = index.reseal([serial], `p0|${envelope}`).split('|');
    expect(keyId).toBe('p1.b2');
    expect(Buffer.from(codeHash, 'hex').equals(repeppered.secrets.blindIndex(code))).toBe(true);
    expect(repeppered.secrets.pinDigestMatches(serial, '123456', Buffer.from(pinHash, 'hex'))).toBe(true);
    // A purged card (no envelope) or another card's envelope cannot be re-indexed: unreadable, left as it is.
    for (const [key, read] of [
      [serial, 'p0|'],
      [serialFromSequence(10_000_000_126), `legacy|${envelope}`],
    ]) {
      let refused: unknown;
      try {
        index.reseal([key], read);
      } catch (error) {
        refused = error;
      }
      expect(isUnreadable(refused)).toBe(true);
    }
    // Rows are counted and compared by pepper id (legacy: none recorded), stale when not under the target.
    expect(censusSql(index)).toContain("coalesce(t.code_key_id, 'legacy')");
    expect(pageSql(index, false)).toContain('t.code_key_id IS DISTINCT FROM $1');
    expect(index.stalenessParam('p1')).toBe('p1');
    expect(resealSql(index)).toContain("code_key_id = split_part(v.fresh, '|', 1)");
  });
});
