/**
 * The plaintext of a card-secrets export: what the database streams out (COPY text format) and the CSV the
 * client decrypts. Pure functions and one small stateful converter, no I/O: the hot path of an export runs
 * a million times per order, so it scans the COPY text with indexOf and builds one string per chunk.
 */
import { formatCode } from '../cards/card-code';
import type { CardSecret } from '../cards/card-secrets';

/** CSV columns, in order. face_value is integer fen (as everywhere in the API); expires_at ISO-8601 UTC or empty. */
export const EXPORT_CSV_COLUMNS = ['serial', 'code', 'pin', 'face_value', 'expires_at'] as const;

/**
 * Header line of the CSV. The file is ASCII (so UTF-8 as well), one header line, LF line ends, and no field
 * ever needs quoting: serials, codes, PINs, amounts and timestamps contain no comma, quote or line break.
 */
export const EXPORT_CSV_HEADER = `${EXPORT_CSV_COLUMNS.join(',')}\n`;

/**
 * Why an export cannot be built, for reasons that a retry does not fix. `code` is stored as the export's
 * failure reason; messages name serials at most (safe to show), never a code, PIN or envelope.
 */
export class ExportBuildError extends Error {
  override readonly name = 'ExportBuildError';

  constructor(
    readonly code:
      | 'card_secrets_purged'
      | 'card_secret_unreadable'
      | 'malformed_copy_row'
      | 'invalid_recipient_key'
      | 'export_key_revoked',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Opens one card's sealed code and PIN (CardSecrets.open); throws when the envelope does not open. */
export type OpenCardSecret = (serial: string, envelope: string) => CardSecret;

const PG_NULL = '\\N';
/** A timestamptz in COPY text with DateStyle ISO: `2029-11-28 15:59:59.123+00`, offset ±HH or ±HH:MM. */
const PG_TIMESTAMPTZ = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(?::?(\d{2}))?$/;

/** `2029-11-28 15:59:59+00` (COPY text, DateStyle ISO) → `2029-11-28T15:59:59.000Z`. */
export function isoFromPgTimestamptz(text: string): string {
  const match = PG_TIMESTAMPTZ.exec(text);
  const date = match ? new Date(`${match[1]}T${match[2]}${match[3]}:${match[4] ?? '00'}`) : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw new ExportBuildError('malformed_copy_row', 'expires_at is not an ISO timestamptz');
  }
  return date.toISOString();
}

/**
 * Turns complete COPY text lines of (serial, secret_ciphertext, face_value, expires_at) into CSV lines,
 * opening each card's envelope. Counts the rows it converted. Stateful only for speed: the cards of a batch
 * share their expiry, so the last timestamp's formatting is reused.
 */
export class CardCsvConverter {
  private converted = 0;
  private lastExpiryText = '';
  private lastExpiry = '';

  constructor(private readonly open: OpenCardSecret) {}

  get rowCount(): number {
    return this.converted;
  }

  /** `text` holds whole lines only (each ends with `\n`); returns their CSV lines. */
  convert(text: string): string {
    let out = '';
    let start = 0;
    const end = text.length;
    while (start < end) {
      const newline = text.indexOf('\n', start);
      const tab1 = text.indexOf('\t', start);
      const tab2 = text.indexOf('\t', tab1 + 1);
      const tab3 = text.indexOf('\t', tab2 + 1);
      // Four fields: three tabs, all before the line's end (a fifth field would fail the timestamp check).
      if (tab1 < 0 || tab2 < 0 || tab3 < 0 || newline < tab3) {
        throw new ExportBuildError('malformed_copy_row', `row ${this.converted + 1} of the COPY output is malformed`);
      }
      const serial = text.slice(start, tab1);
      const envelope = text.slice(tab1 + 1, tab2);
      if (envelope === PG_NULL) {
        throw new ExportBuildError(
          'card_secrets_purged',
          `card ${serial} has no stored code any more (purged after an earlier export)`,
        );
      }
      let secret: CardSecret;
      try {
        secret = this.open(serial, envelope);
      } catch (cause) {
        // CardSecretError messages carry no secret; the serial is safe to show.
        throw new ExportBuildError('card_secret_unreadable', `card ${serial}: ${(cause as Error).message}`, { cause });
      }
      out += `${serial},${formatCode(secret.code)},${secret.pin},${text.slice(tab2 + 1, tab3)},${this.expiry(text.slice(tab3 + 1, newline))}\n`;
      this.converted++;
      start = newline + 1;
    }
    return out;
  }

  private expiry(text: string): string {
    if (text === PG_NULL) return '';
    if (text !== this.lastExpiryText) {
      this.lastExpiry = isoFromPgTimestamptz(text);
      this.lastExpiryText = text;
    }
    return this.lastExpiry;
  }
}
