/**
 * How long export files and download links live, and what an export's status reads as for a client.
 * The stored status (CardExport.status) is the build's state; once built, the download and the file's age
 * decide what the client sees.
 */
import { ApiError } from '../common/errors/api-error';
import type { CardExport } from '../issuance/card-export.entity';
import { DOWNLOAD_TOKEN_HEADER, DOWNLOAD_TOKEN_PATTERN } from './dto/download-query.dto';

/** A download link (token) is valid this long after the GET that issued it. */
export const DOWNLOAD_LINK_TTL_MS = 15 * 60_000;
/** A built file that nobody downloads is deleted this long after it was built. */
export const EXPORT_FILE_RETENTION_MS = 7 * 24 * 3_600_000;
/** Content type of the file: a binary OpenPGP message (RFC 3156 registers application/pgp-encrypted). */
export const EXPORT_CONTENT_TYPE = 'application/pgp-encrypted';
/** Orders whose cards exist: issued, and what may follow issuance without voiding every card. */
export const EXPORTABLE_ORDER_STATUSES = ['issued', 'completed', 'partially_refunded'] as const;

export const EXPORT_STATES = [
  'awaiting_purge_confirmation',
  'pending',
  'running',
  'ready',
  'downloaded',
  'expired',
  'failed',
] as const;
export type ExportState = (typeof EXPORT_STATES)[number];

/** The download's file name: `fuli-cards-<order id>.csv.pgp`. */
export function exportFileName(record: Pick<CardExport, 'orderId'>): string {
  return `fuli-cards-${record.orderId}.csv.pgp`;
}

/** Name of the CSV inside the OpenPGP message (what `gpg --use-embedded-filename` writes). */
export function exportLiteralName(record: Pick<CardExport, 'orderId'>): string {
  return `fuli-cards-${record.orderId}.csv`;
}

/** When a built file is deleted if nobody downloads it. */
export function fileExpiresAt(record: Pick<CardExport, 'completedAt'>): Date | null {
  return record.completedAt ? new Date(record.completedAt.getTime() + EXPORT_FILE_RETENTION_MS) : null;
}

/**
 * What the client sees: awaiting_purge_confirmation, pending, running and failed as stored; a built export is `ready` until it is
 * downloaded (`downloaded`, also while the one download is in flight) or its file is gone (`expired`).
 */
export function exportState(record: CardExport, now: Date): ExportState {
  if (record.status !== 'ready') return record.status;
  if (record.downloadedAt) return 'downloaded';
  const expires = fileExpiresAt(record);
  if (!record.storagePath || (expires && expires <= now)) return 'expired';
  return 'ready';
}

/**
 * The download token of a request: the `X-Download-Token` header (programs) or the link's `token` query parameter
 * (browsers). 400 when neither is given, when the header is malformed, or when both are given and differ.
 */
export function downloadTokenOf(header: string | string[] | undefined, query: string | undefined): string {
  if (Array.isArray(header) || (header !== undefined && !DOWNLOAD_TOKEN_PATTERN.test(header))) {
    throw ApiError.validation([
      {
        field: DOWNLOAD_TOKEN_HEADER,
        message: `${DOWNLOAD_TOKEN_HEADER} must be one token of 43 base64url characters`,
      },
    ]);
  }
  if (header !== undefined && query !== undefined && header !== query) {
    throw ApiError.validation([
      { field: 'token', message: `the token of the link and the ${DOWNLOAD_TOKEN_HEADER} header differ` },
    ]);
  }
  const token = header ?? query;
  if (token === undefined) {
    throw ApiError.badRequest(
      'download_token_required',
      `Send the download token in the ${DOWNLOAD_TOKEN_HEADER} header (or open the link, which carries it)`,
    );
  }
  return token;
}
