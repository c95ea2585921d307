import { ApiProperty } from '@nestjs/swagger';
import type { CardExport } from '../../issuance/card-export.entity';
import { EXPORT_CSV_COLUMNS } from '../export-csv';
import {
  EXPORT_CONTENT_TYPE,
  EXPORT_STATES,
  exportFileName,
  exportState,
  fileExpiresAt,
  type ExportState,
} from '../export-policy';

export class ExportEncryptionDto {
  @ApiProperty({ enum: ['openpgp'] })
  format: 'openpgp';

  @ApiProperty({
    description: "Fingerprint of the recipient's primary key",
    example: '008482d4482c8d75900613fc82b6e5b24669647c',
  })
  recipient_fingerprint: string;

  @ApiProperty({ description: 'Key id of the (sub)key the file is encrypted to', example: '8d1ab07d48d93ef0' })
  encryption_key_id: string;

  @ApiProperty({ example: 'rsaEncryptSign 3072' })
  algorithm: string;

  @ApiProperty({ type: [String], example: ['ERP Export <erp@example.com>'] })
  user_ids: string[];
}

export class ExportManifestDto {
  @ApiProperty({ description: 'Data rows in the CSV (the header line not counted)', example: 1000 })
  row_count: number;

  @ApiProperty({
    description: 'SHA-256 of the decrypted CSV, header included (compare with `sha256sum` of what gpg writes)',
    example: 'b11cdb3e9cb02c2c021a4b58588f0b7de1bccd5a9a6fa8445f0663990a8d8db5',
  })
  plaintext_sha256: string;

  @ApiProperty({ description: 'Bytes of the encrypted file', example: 71_002_467 })
  size_bytes: number;

  @ApiProperty({
    type: [String],
    example: [...EXPORT_CSV_COLUMNS],
    description:
      'CSV columns: serial, code (XXXX-XXXX-XXXX-XXXX), 6-digit PIN, face_value in fen, expires_at (ISO-8601 UTC, empty: no expiry). ASCII, LF line ends, one header line, no quoting',
  })
  columns: string[];

  @ApiProperty({ example: 'fuli-cards-ord_01JDQ6ZK6Y8V3N2M4T5R7W9XAB.csv.pgp' })
  file_name: string;

  @ApiProperty({ example: EXPORT_CONTENT_TYPE })
  content_type: string;

  @ApiProperty({ format: 'date-time', description: 'When the file was built' })
  created_at: string;
}

export class ExportDownloadDto {
  @ApiProperty({
    description:
      'Download link with the token in its query, for a browser; works once (a complete download), until expires_at',
    example:
      'https://api.fuli.example/v1/exports/exp_01JDQ6ZK6Y8V3N2M4T5R7W9XAB/download?token=m2Vb3c0Yk9f4R1sQ7xT6uP8wZ5aN0dL2hJ3gK4eC1iA',
  })
  url: string;

  @ApiProperty({
    description:
      'The one-time token alone: programs send it in the `X-Download-Token` header of `GET /v1/exports/{id}/download`, which keeps it out of URLs and the logs that record them',
    example: 'm2Vb3c0Yk9f4R1sQ7xT6uP8wZ5aN0dL2hJ3gK4eC1iA',
  })
  token: string;

  @ApiProperty({ format: 'date-time' })
  expires_at: string;
}

export class CardExportDto {
  @ApiProperty({ enum: ['card_export'] })
  object: 'card_export';

  @ApiProperty({ example: 'exp_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty()
  order_id: string;

  @ApiProperty({
    enum: EXPORT_STATES,
    description:
      'pending → running → ready → downloaded; expired: the file was deleted unread (its retention passed); failed: see failure_reason. A purging export starts in awaiting_purge_confirmation: nothing is built until the purge is confirmed',
  })
  status: ExportState;

  @ApiProperty({ type: String, nullable: true, description: 'The export key the file is encrypted to' })
  export_key_id: string | null;

  @ApiProperty()
  purge_anonymous_after_export: boolean;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Who confirmed the purge (the operator, or another client with orders:approve)',
  })
  purge_confirmed_by_client_id: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  purge_confirmed_at: string | null;

  @ApiProperty({ type: ExportEncryptionDto })
  encryption: ExportEncryptionDto;

  @ApiProperty({ type: ExportManifestDto, nullable: true, description: 'Once built' })
  manifest: ExportManifestDto | null;

  @ApiProperty({
    type: ExportDownloadDto,
    nullable: true,
    description:
      'While the export is ready: a fresh one-time link, issued by this request. Only a hash of the token is stored, so each GET of a ready export issues a new link and revokes the previous one',
  })
  download: ExportDownloadDto | null;

  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    description: 'When an undownloaded file is deleted',
  })
  file_expires_at: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  downloaded_at: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'card_secrets_purged: card 100000000018 has no stored code any more',
  })
  failure_reason: string | null;

  @ApiProperty()
  requested_by_client_id: string;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  completed_at: string | null;

  static from(record: CardExport, now: Date, download: ExportDownloadDto | null = null): CardExportDto {
    const encryption = record.encryption;
    const expires = record.status === 'ready' ? fileExpiresAt(record) : null;
    return {
      object: 'card_export',
      id: record.id,
      order_id: record.orderId,
      status: exportState(record, now),
      export_key_id: record.exportKeyId,
      purge_anonymous_after_export: record.purgeAfterExport,
      purge_confirmed_by_client_id: record.purgeConfirmedByClientId,
      purge_confirmed_at: record.purgeConfirmedAt?.toISOString() ?? null,
      encryption: {
        format: 'openpgp',
        recipient_fingerprint: String(encryption.recipient_fingerprint),
        encryption_key_id: String(encryption.encryption_key_id),
        algorithm: String(encryption.algorithm),
        user_ids: Array.isArray(encryption.user_ids) ? encryption.user_ids.map(String) : [],
      },
      manifest:
        record.status === 'ready' && record.completedAt && record.plaintextSha256 !== null
          ? {
              row_count: record.rowCount ?? 0,
              plaintext_sha256: record.plaintextSha256,
              size_bytes: Number(record.sizeBytes ?? 0),
              columns: [...EXPORT_CSV_COLUMNS],
              file_name: exportFileName(record),
              content_type: EXPORT_CONTENT_TYPE,
              created_at: record.completedAt.toISOString(),
            }
          : null,
      download,
      file_expires_at: expires?.toISOString() ?? null,
      downloaded_at: record.downloadedAt?.toISOString() ?? null,
      failure_reason: record.failureReason,
      requested_by_client_id: record.requestedByClientId,
      created_at: record.createdAt.toISOString(),
      completed_at: record.completedAt?.toISOString() ?? null,
    };
  }
}
