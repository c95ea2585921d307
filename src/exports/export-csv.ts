/**
 * The plaintext of a card-secrets export: what the database streams out (COPY text format) and the CSV the
 * client decrypts. Pure functions and one small stateful converter, no I/O: the hot path of an export runs
 * a million times per order, so it works on the COPY chunk's bytes and writes the CSV into one Buffer per chunk,
 * with no string or Buffer per card.
 */
import { CODE_LENGTH, PIN_LENGTH } from '../cards/card-code';
import { OPENED_CODE_AT, OPENED_PIN_AT, type CardSecretReader } from '../cards/card-secrets';

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

/** Opens one card's sealed code and PIN from byte ranges of the COPY text (CardSecretReader). */
export type CardSecretOpener = Pick<CardSecretReader, 'open'>;

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

const TAB = 0x09;
const NEWLINE = 0x0a;
const COMMA = 0x2c;
const DASH = 0x2d;
const BACKSLASH = 0x5c;
const CAPITAL_N = 0x4e;
/** CSV bytes of a row besides the serial, face value and expiry: the formatted code, the PIN, five separators. */
const ROW_FIXED_BYTES = CODE_LENGTH + 3 + PIN_LENGTH + 5;

/** Whether `bytes[start, end)` is `\N`, COPY's NULL. */
const isPgNull = (bytes: Buffer, start: number, end: number) =>
  end - start === 2 && bytes[start] === BACKSLASH && bytes[start + 1] === CAPITAL_N;

/**
 * Turns complete COPY text lines of (serial, secret_ciphertext, face_value, expires_at) into CSV lines,
 * opening each card's envelope. Counts the rows it converted. Stateful only for speed: the cards of a batch
 * share their expiry, so the last timestamp's formatting is reused.
 */
export class CardCsvConverter {
  private converted = 0;
  /** The COPY text of the last expiry formatted, and its CSV bytes; none yet (an empty field is malformed too). */
  private lastExpiryText: Buffer | null = null;
  private lastExpiry = Buffer.alloc(0);

  constructor(private readonly secrets: CardSecretOpener) {}

  get rowCount(): number {
    return this.converted;
  }

  /**
   * `lines` holds whole lines only (each ends with `\n`); returns their CSV lines, at the start of a Buffer with an
   * ArrayBuffer of its own. Fields are copied byte for byte: COPY text of these columns is ASCII, and so is the CSV.
   */
  convert(lines: Buffer): Buffer {
    // A CSV row is shorter than its COPY line (the envelope alone is longer than code and PIN), except for an
    // expiry that ISO spells longer; grown below in the rare case it does not fit. Memory of its own, never a
    // slice of Node's shared pool, so that a decryption worker can transfer it instead of copying it.
    let out = Buffer.allocUnsafeSlow(lines.length + 64);
    let at = 0;
    let start = 0;
    const end = lines.length;
    while (start < end) {
      const newline = lines.indexOf(NEWLINE, start);
      const tab1 = lines.indexOf(TAB, start);
      const tab2 = tab1 < 0 ? -1 : lines.indexOf(TAB, tab1 + 1);
      const tab3 = tab2 < 0 ? -1 : lines.indexOf(TAB, tab2 + 1);
      // Four fields: three tabs, all before the line's end (a fifth field would fail the timestamp check).
      if (tab3 < 0 || newline < tab3) {
        throw new ExportBuildError('malformed_copy_row', `row ${this.converted + 1} of the COPY output is malformed`);
      }
      if (isPgNull(lines, tab1 + 1, tab2)) {
        throw new ExportBuildError(
          'card_secrets_purged',
          `card ${lines.toString('latin1', start, tab1)} has no stored code any more (purged after an earlier export)`,
        );
      }
      let secret: Buffer;
      try {
        secret = this.secrets.open(lines, tab1 + 1, tab2, start, tab1);
      } catch (cause) {
        // CardSecretError messages carry no secret; the serial is safe to show.
        throw new ExportBuildError(
          'card_secret_unreadable',
          `card ${lines.toString('latin1', start, tab1)}: ${(cause as Error).message}`,
          { cause },
        );
      }
      const expiry = this.expiry(lines, tab3 + 1, newline);
      const rowBytes = tab1 - start + (tab3 - tab2 - 1) + expiry.length + ROW_FIXED_BYTES;
      if (at + rowBytes > out.length) {
        const larger = Buffer.allocUnsafeSlow(Math.max(2 * out.length, at + rowBytes));
        out.copy(larger, 0, 0, at);
        out = larger;
      }
      at = copyInto(out, at, lines, start, tab1);
      out[at++] = COMMA;
      // The code as XXXX-XXXX-XXXX-XXXX (formatCode).
      for (let i = 0; i < CODE_LENGTH; i++) {
        if (i > 0 && i % 4 === 0) out[at++] = DASH;
        out[at++] = secret[OPENED_CODE_AT + i];
      }
      out[at++] = COMMA;
      at = copyInto(out, at, secret, OPENED_PIN_AT, OPENED_PIN_AT + PIN_LENGTH);
      out[at++] = COMMA;
      at = copyInto(out, at, lines, tab2 + 1, tab3);
      out[at++] = COMMA;
      at = copyInto(out, at, expiry, 0, expiry.length);
      out[at++] = NEWLINE;
      this.converted++;
      start = newline + 1;
    }
    return out.subarray(0, at);
  }

  /** The expiry's CSV bytes: ISO-8601, or nothing for NULL. */
  private expiry(lines: Buffer, start: number, end: number): Buffer {
    const last = this.lastExpiryText;
    if (last === null || !sameBytes(last, lines, start, end)) {
      const text = lines.toString('latin1', start, end);
      this.lastExpiry = Buffer.from(text === PG_NULL ? '' : isoFromPgTimestamptz(text), 'latin1');
      this.lastExpiryText = Buffer.from(lines.subarray(start, end));
    }
    return this.lastExpiry;
  }
}

/** Copies `from[start, end)` to `to` at `at` and returns the end: a loop, cheaper than a native call for a few bytes. */
function copyInto(to: Buffer, at: number, from: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) to[at++] = from[i];
  return at;
}

/** Whether `bytes` equals `from[start, end)`. */
function sameBytes(bytes: Buffer, from: Buffer, start: number, end: number): boolean {
  if (bytes.length !== end - start) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== from[start + i]) return false;
  return true;
}
