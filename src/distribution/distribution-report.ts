import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { spreadsheetSafe } from '../common/uploads/tabular-file';
import type { DistributionRecipient } from './distribution.entity';

/** The report's columns: who got which card how, and how far it got. Never a code, PIN or claim link. */
export const REPORT_COLUMNS = [
  'row_number',
  'employee_ref',
  'name',
  'channel',
  'email',
  'mobile',
  'face_value',
  'card_serial',
  'status',
  'sent_at',
  'delivered_at',
  'viewed_at',
  'claimed_at',
  'bound_at',
  'revoked_at',
  'last_error',
] as const;

function reportRow(recipient: DistributionRecipient): string[] {
  const iso = (date: Date | null) => date?.toISOString() ?? '';
  const cells: Record<(typeof REPORT_COLUMNS)[number], string> = {
    row_number: String(recipient.rowNumber),
    employee_ref: recipient.employeeRef,
    name: recipient.name ?? '',
    channel: recipient.channel,
    email: recipient.email ?? '',
    mobile: recipient.mobile ?? '',
    face_value: String(recipient.faceValue),
    card_serial: String(recipient.cardSerial),
    status: recipient.status,
    sent_at: iso(recipient.sentAt),
    delivered_at: iso(recipient.deliveredAt),
    viewed_at: iso(recipient.viewedAt),
    claimed_at: iso(recipient.claimedAt),
    bound_at: iso(recipient.boundAt),
    revoked_at: iso(recipient.revokedAt),
    last_error: recipient.lastError ?? '',
  };
  return REPORT_COLUMNS.map((column) => spreadsheetSafe(cells[column]));
}

/** The CSV (UTF-8 with a BOM, so Excel reads Chinese names right) of the recipients as pages arrive. */
export function reportCsv(pages: AsyncIterable<DistributionRecipient[]>): Readable {
  const rows = Readable.from(
    (async function* () {
      for await (const page of pages) for (const recipient of page) yield reportRow(recipient);
    })(),
  );
  const csv = stringify({ header: true, columns: [...REPORT_COLUMNS], bom: true });
  rows.on('error', (error) => csv.destroy(error));
  return rows.pipe(csv);
}
