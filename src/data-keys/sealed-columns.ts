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
import { storedResponseContext } from '../common/idempotency/idempotency.interceptor';
import { CardSecretError, CardSecrets, LEGACY_CODE_KEY_ID } from '../issuance/card-secrets';
import { purchaserEnvelopeContext } from '../orders/purchaser-identity';
import { secretContext } from '../webhooks/webhook-delivery.service';

export const SEALED_COLUMN_NAMES = [
  'cards.secret_ciphertext',
  'orders.purchaser_ciphertext',
  'idempotency_keys.response_body',
  'webhook_endpoints.secret_sealed',
  'webhook_endpoints.previous_secret_sealed',
  'cards.code_hash',
] as const;
export type SealedColumnName = (typeof SEALED_COLUMN_NAMES)[number];

/** The column whose key ids are CODE_PEPPER ids (blind index and PIN digest), not DATA_ENCRYPTION_KEYS ids. */
export const CODE_PEPPER_COLUMN: SealedColumnName = 'cards.code_hash';

export interface KeyColumn {
  name: string;
  type: 'bigint' | 'text';
}

export interface SealedColumn {
  /** `table.column`, as operators see it. */
  readonly name: SealedColumnName;
  readonly table: string;
  /** The primary key in index order: the keyset the walk pages by, and how a row is named. */
  readonly key: readonly KeyColumn[];
  /** Which keys rotate it: DATA_ENCRYPTION_KEYS, or CODE_PEPPER (cards.code_hash). */
  readonly keys: 'data' | 'code_pepper';
  /**
   * SQL (text) of what is read for a row to rotate and compared when it is stored (the envelope), with the table
   * aliased `alias`; NULL when the row holds none.
   */
  envelopeOf(alias: string): string;
  /** SQL (text) of the key id the row is under; NULL when it holds nothing. */
  keyIdOf(alias: string): string;
  /** SQL condition: the row is not under the key that `stalenessParam(target)` (as `$1`) names. */
  notUnder(alias: string): string;
  stalenessParam(targetKeyId: string): string;
  /** SQL assignment (UPDATE … SET) that stores the text expression `fresh` as the row's envelope. */
  store(fresh: string): string;
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

const quoted = (identifier: string) => `"${identifier}"`;
const keyList = (column: SealedColumn, alias: string) =>
  column.key.map((key) => `${alias}.${quoted(key.name)}`).join(', ');
const keysAsText = (column: SealedColumn, alias: string) =>
  column.key.map((key, i) => `${alias}.${quoted(key.name)}::text AS k${i}`).join(', ');

/** Rows per key id (`key_id` NULL: rows without an envelope). One aggregate pass over the table. */
export function censusSql(column: SealedColumn): string {
  return `SELECT ${column.keyIdOf('t')} AS key_id, count(*)::text AS rows
            FROM ${quoted(column.table)} t GROUP BY 1`;
}

/**
 * The next `$2` rows after the cursor (`$3…`, one per key column; none for the first page) in primary-key order:
 * their keys as text `k0…`, `stale`, the envelope when the row is not under the key `$1` names
 * (SealedColumn.stalenessParam), and `key_id`, the key it is under.
 * Only stale envelopes leave the database.
 */
export function pageSql(column: SealedColumn, afterCursor: boolean): string {
  const envelope = column.envelopeOf('t');
  const cursor = column.key.map((key, i) => `$${i + 3}::${key.type}`).join(', ');
  return `SELECT ${keysAsText(column, 't')},
                 CASE WHEN ${envelope} IS NOT NULL AND ${column.notUnder('t')} THEN ${envelope} END AS stale,
                 ${column.keyIdOf('t')} AS key_id
            FROM ${quoted(column.table)} t
           ${afterCursor ? `WHERE (${keyList(column, 't')}) > (${cursor})` : ''}
           ORDER BY ${keyList(column, 't')}
           LIMIT $2`;
}

/**
 * Stores re-sealed envelopes, each only where the row still holds the envelope that was read (a purge or a
 * write in between wins): parameters are one array per key column, then the stale and the fresh envelopes.
 * Returns the keys (`k0…`, text) of the rows it updated.
 */
export function resealSql(column: SealedColumn): string {
  const n = column.key.length;
  const arrays = [...column.key.map((key, i) => `$${i + 1}::${key.type}[]`), `$${n + 1}::text[]`, `$${n + 2}::text[]`];
  const names = [...column.key.map((_, i) => `k${i}`), 'stale', 'fresh'];
  const match = column.key.map((key, i) => `t.${quoted(key.name)} = v.k${i}`).join(' AND ');
  return `WITH v AS (SELECT * FROM unnest(${arrays.join(', ')}) AS v(${names.join(', ')})),
               u AS (UPDATE ${quoted(column.table)} t SET ${column.store('v.fresh')}
                       FROM v WHERE ${match} AND ${column.envelopeOf('t')} = v.stale
                     RETURNING ${keysAsText(column, 't')})
          SELECT * FROM u`;
}

/** How a DataCipher envelope column names its key and tells a stale one: by the envelope's `v1.<key id>.` prefix. */
const dataKeyed = (envelopeOf: (alias: string) => string) => ({
  keys: 'data' as const,
  envelopeOf,
  keyIdOf: (alias: string) => `split_part(${envelopeOf(alias)}, '.', 2)`,
  notUnder: (alias: string) => `NOT starts_with(${envelopeOf(alias)}, $1)`,
  stalenessParam: (targetKeyId: string) => `v1.${targetKeyId}.`,
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
