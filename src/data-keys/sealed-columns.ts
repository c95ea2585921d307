/**
 * Every column that holds DataCipher envelopes, described once for the key-rotation code: how to count its
 * envelopes by key id, walk it in primary-key order, and store a re-sealed envelope only where the old one is
 * still in place. Each column re-seals with its own associated data (the card's serial, the order id, the
 * client and Idempotency-Key, the webhook endpoint), defined beside the code that seals it in the first place.
 *
 * One more "column" rotates a CODE_PEPPER instead of a data key: cards.code_hash, the blind index and PIN digest,
 * recomputed under the current pepper from the card's envelope (CardSecrets.reindex). Its rows' key id is
 * cards.code_key_id; what it reads and compares is the key id and the envelope together.
 */
import { Injectable } from '@nestjs/common';
import { DataCipher, EnvelopeError } from '../common/crypto/data-cipher.service';
import type { SealedColumnSql } from '../database/sealed-column-sql';
import { storedResponseContext } from '../idempotency/idempotency.interceptor';
import { CardSecretError, CardSecrets, LEGACY_CODE_KEY_ID } from '../cards/card-secrets';
import { purchaserEnvelopeContext } from '../orders/purchaser-identity';
import { realNameEnvelopeContext } from '../distribution/recipient-rows';
import { secretContext } from '../webhooks/webhook-delivery.service';
import { paymentCodeSecretContext } from '../redemption/payment-code-keys';

export const SEALED_COLUMN_NAMES = [
  'cards.secret_ciphertext',
  'orders.purchaser_ciphertext',
  'idempotency_keys.response_body',
  'webhook_endpoints.secret_sealed',
  'webhook_endpoints.previous_secret_sealed',
  'distribution_recipients.real_name_sealed',
  'distribution_file_rows.real_name_sealed',
  'payment_code_keys.secret_sealed',
  'cards.code_hash',
] as const;
export type SealedColumnName = (typeof SEALED_COLUMN_NAMES)[number];

/** The column whose key ids are CODE_PEPPER ids (blind index and PIN digest), not DATA_ENCRYPTION_KEYS ids. */
export const CODE_PEPPER_COLUMN: SealedColumnName = 'cards.code_hash';

export interface SealedColumn extends SealedColumnSql {
  /** `table.column`, as operators see it. */
  readonly name: SealedColumnName;
  /** Which keys rotate it: DATA_ENCRYPTION_KEYS, or CODE_PEPPER (cards.code_hash). */
  readonly keys: 'data' | 'code_pepper';
  stalenessParam(targetKeyId: string): string;
  /**
   * The envelope sealed again under the active key, bound to the same row. Throws an error for which
   * `isUnreadable` holds when it does not open.
   */
  reseal(key: readonly string[], envelope: string): string;
}

/** Whether an error from `reseal` means "this envelope does not open" (rather than a bug or an outage). */
export function isUnreadable(error: unknown): boolean {
  return error instanceof EnvelopeError || error instanceof CardSecretError;
}

// The statements that walk a column are built in src/database/sealed-column-sql.ts and sent by the repository of
// the table's owner (SealedColumnOwners: cards, orders, idempotency and webhooks each send their own).
export { censusSql, pageSql, resealSql } from '../database/sealed-column-sql';

/**
 * How the census and the walk name the key of a v1 (AES-GCM) envelope: `v1:<key id>`, so that a run counts it as
 * stale even under the target key (the format moves to v2). Key ids never hold a colon (DATA_ENCRYPTION_KEYS).
 */
export const LEGACY_FORMAT_LABEL = 'v1:';

/** The data key a census label names: `v1:k1` (a v1 envelope under k1) and `k1` are both the key `k1`. */
export function dataKeyIdOf(label: string): string {
  return label.startsWith(LEGACY_FORMAT_LABEL) ? label.slice(LEGACY_FORMAT_LABEL.length) : label;
}

/**
 * How a DataCipher envelope column names its key and tells a stale one: anything but the `v2.<target key id>.`
 * prefix is stale (an older key, or the v1 format under any key).
 */
const dataKeyed = (envelopeOf: (alias: string) => string) => ({
  keys: 'data' as const,
  envelopeOf,
  keyIdOf: (alias: string) =>
    `CASE WHEN starts_with(${envelopeOf(alias)}, 'v1.') THEN '${LEGACY_FORMAT_LABEL}' ELSE '' END || split_part(${envelopeOf(alias)}, '.', 2)`,
  notUnder: (alias: string) => `NOT starts_with(${envelopeOf(alias)}, $1)`,
  stalenessParam: (targetKeyId: string) => DataCipher.currentPrefix(targetKeyId),
});

/** The encrypted columns of the schema, bound to the services that seal them. */
@Injectable()
export class SealedColumns {
  readonly all: readonly SealedColumn[];

  constructor(cipher: DataCipher, secrets: CardSecrets) {
    this.all = [
      {
        name: 'cards.secret_ciphertext',
        table: 'cards',
        key: [{ name: 'serial', type: 'bigint' }],
        ...dataKeyed((alias) => `${alias}.secret_ciphertext`),
        store: (fresh) => `secret_ciphertext = ${fresh}`,
        // Through CardSecrets: the serial stays bound, and what opens must still be a valid code and PIN.
        reseal: ([serial], envelope) => secrets.reseal(serial, envelope),
      },
      {
        name: 'orders.purchaser_ciphertext',
        table: 'orders',
        key: [{ name: 'id', type: 'text' }],
        ...dataKeyed((alias) => `${alias}.purchaser_ciphertext`),
        store: (fresh) => `purchaser_ciphertext = ${fresh}`,
        reseal: ([orderId], envelope) => cipher.reseal(envelope, purchaserEnvelopeContext(orderId)),
      },
      {
        name: 'idempotency_keys.response_body',
        table: 'idempotency_keys',
        key: [
          { name: 'client_id', type: 'text' },
          { name: 'key', type: 'text' },
        ],
        // Stored responses are `{"sealed": envelope}`; rows from before they were encrypted hold none.
        ...dataKeyed((alias) => `(${alias}.response_body ->> 'sealed')`),
        store: (fresh) => `response_body = jsonb_build_object('sealed', ${fresh}::text)`,
        reseal: ([clientId, key], envelope) => cipher.reseal(envelope, storedResponseContext(clientId, key)),
      },
      // Webhook signing secrets (and, during a rotation's grace period, the previous one): readable to sign with.
      {
        name: 'webhook_endpoints.secret_sealed',
        table: 'webhook_endpoints',
        key: [{ name: 'id', type: 'text' }],
        ...dataKeyed((alias) => `${alias}.secret_sealed`),
        store: (fresh) => `secret_sealed = ${fresh}`,
        reseal: ([endpointId], envelope) => cipher.reseal(envelope, secretContext(endpointId)),
      },
      {
        name: 'webhook_endpoints.previous_secret_sealed',
        table: 'webhook_endpoints',
        key: [{ name: 'id', type: 'text' }],
        ...dataKeyed((alias) => `${alias}.previous_secret_sealed`),
        store: (fresh) => `previous_secret_sealed = ${fresh}`,
        reseal: ([endpointId], envelope) => cipher.reseal(envelope, secretContext(endpointId)),
      },
      // Registered cards' holders (real-name data of a distribution's recipients): the claim page's OTP path opens it.
      {
        name: 'distribution_recipients.real_name_sealed',
        table: 'distribution_recipients',
        key: [{ name: 'id', type: 'text' }],
        ...dataKeyed((alias) => `${alias}.real_name_sealed`),
        store: (fresh) => `real_name_sealed = ${fresh}`,
        reseal: ([recipientId], envelope) => cipher.reseal(envelope, realNameEnvelopeContext(recipientId)),
      },
      // An uploaded file's rows, until a distribution takes them (72 h): sealed already for the recipient-to-be.
      {
        name: 'distribution_file_rows.real_name_sealed',
        table: 'distribution_file_rows',
        key: [{ name: 'recipient_id', type: 'text' }],
        ...dataKeyed((alias) => `${alias}.real_name_sealed`),
        store: (fresh) => `real_name_sealed = ${fresh}`,
        reseal: ([recipientId], envelope) => cipher.reseal(envelope, realNameEnvelopeContext(recipientId)),
      },
      // Payment-code keys' secrets (src/redemption/payment-code-keys.ts): every debit by code needs its key's.
      {
        name: 'payment_code_keys.secret_sealed',
        table: 'payment_code_keys',
        key: [{ name: 'number', type: 'bigint' }],
        ...dataKeyed((alias) => `${alias}.secret_sealed`),
        store: (fresh) => `secret_sealed = ${fresh}`,
        reseal: ([keyNumber], envelope) => cipher.reseal(envelope, paymentCodeSecretContext(keyNumber)),
      },
      // Last, so that a run which also re-seals card envelopes re-indexes from the re-sealed ones.
      {
        name: 'cards.code_hash',
        table: 'cards',
        key: [{ name: 'serial', type: 'bigint' }],
        keys: 'code_pepper',
        // `<key id>|<envelope>`: a purge or a re-index in between changes it, and the re-index then leaves the row.
        envelopeOf: (alias) =>
          `(coalesce(${alias}.code_key_id, '${LEGACY_CODE_KEY_ID}') || '|' || coalesce(${alias}.secret_ciphertext, ''))`,
        keyIdOf: (alias) => `coalesce(${alias}.code_key_id, '${LEGACY_CODE_KEY_ID}')`,
        notUnder: (alias) => `${alias}.code_key_id IS DISTINCT FROM $1`,
        stalenessParam: (targetKeyId) => targetKeyId,
        store: (fresh) =>
          `code_key_id = split_part(${fresh}, '|', 1), code_hash = decode(split_part(${fresh}, '|', 2), 'hex'),
           pin_hash = decode(split_part(${fresh}, '|', 3), 'hex')`,
        reseal: ([serial], read) => {
          const envelope = read.slice(read.indexOf('|') + 1);
          // A purged card keeps only its index: without the code, it cannot be indexed again (its pepper stays).
          if (!envelope) throw new CardSecretError('no envelope to re-index from (purged)');
          const { keyId, codeHash, pinHash } = secrets.reindex(serial, envelope);
          return `${keyId}|${codeHash.toString('hex')}|${pinHash.toString('hex')}`;
        },
      },
    ];
  }
}
