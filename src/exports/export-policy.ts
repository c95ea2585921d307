/**
 * How long export files and download links live, and what an export's status reads as for a client.
 * The stored status (CardExport.status) is the build's state; once built, the download and the file's age
 * decide what the client sees.
 */
import type { CardExport } from '../issuance/card-export.entity';

/** A download link (token) is valid this long after the GET that issued it. */
export const DOWNLOAD_LINK_TTL_MS = 15 * 60_000;
/** A built file that nobody downloads is deleted this long after it was built. */
export const EXPORT_FILE_RETENTION_MS = 7 * 24 * 3_600_000;
/** Content type of the file: a binary OpenPGP message (RFC 3156 registers application/pgp-encrypted). */
export const EXPORT_CONTENT_TYPE = 'application/pgp-encrypted';
/** Orders whose cards exist: issued, and what may follow issuance without voiding every card. */
export const EXPORTABLE_ORDER_STATUSES = ['issued', 'completed', 'partially_refunded'] as const;

export const EXPORT_STATES = ['pending', 'running', 'ready', 'downloaded', 'expired', 'failed'] as const;
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
 * What the client sees: pending, running and failed as stored; a built export is `ready` until it is
 * downloaded (`downloaded`, also while the one download is in flight) or its file is gone (`expired`).
 */
export function exportState(record: CardExport, now: Date): ExportState {
  if (record.status !== 'ready') return record.status;
  if (record.downloadedAt) return 'downloaded';
  const expires = fileExpiresAt(record);
  if (!record.storagePath || (expires && expires <= now)) return 'expired';
  return 'ready';
}
