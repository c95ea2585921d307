import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { idPattern } from '../../common/ids';
import { ListQueryDto } from '../../common/pagination/pagination';
import type { ExportKey, ExportKeyStatus } from '../export-key.entity';

/** Largest armored public key accepted (an RSA-4096 key with many signatures stays far below). */
export const MAX_PUBLIC_KEY_CHARS = 100_000;

export const EXPORT_KEY_STATUSES: readonly ExportKeyStatus[] = ['pending_confirmation', 'confirmed', 'revoked'];

/** Fingerprints as people copy them from `gpg --fingerprint`: any case, spaces between groups of four. */
const normaliseFingerprint = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.replace(/\s+/g, '').toLowerCase() : value;

export class RegisterExportKeyDto {
  @ApiProperty({
    description:
      'ASCII-armored OpenPGP public key export files will be encrypted to (`gpg --armor --export <you>`). It needs a ' +
      'valid, unexpired encryption (sub)key: RSA ≥ 2048 bits, or ECDH (Curve25519, NIST P-256/384/521). Only the ' +
      'holder of the matching private key can read the exports; the server never can.',
    example: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ…\n-----END PGP PUBLIC KEY BLOCK-----\n',
    maxLength: MAX_PUBLIC_KEY_CHARS,
  })
  @IsString()
  @MaxLength(MAX_PUBLIC_KEY_CHARS)
  public_key: string;

  @ApiPropertyOptional({ description: 'What the key is for, shown to whoever confirms it', example: 'ERP card import' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  label?: string;
}

export class ConfirmExportKeyDto {
  @ApiProperty({
    description:
      "The key's fingerprint as the confirmer checked it with the key's owner, out of band (`gpg --fingerprint`; " +
      'spaces and case do not matter). It must be the fingerprint of the registered key.',
    example: '0084 82D4 482C 8D75 9006  13FC 82B6 E5B2 4669 647C',
  })
  @Transform(normaliseFingerprint)
  @IsString()
  @Matches(/^([0-9a-f]{40}|[0-9a-f]{64})$/, { message: 'fingerprint must be 40 or 64 hexadecimal digits' })
  fingerprint: string;
}

export class ListExportKeysQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ enum: EXPORT_KEY_STATUSES })
  @IsOptional()
  @IsIn(EXPORT_KEY_STATUSES)
  status?: ExportKeyStatus;

  @ApiPropertyOptional({ description: "Operator only: one enterprise's keys" })
  @IsOptional()
  @Matches(idPattern('enterprise'), { message: 'enterprise_id must be an enterprise id' })
  enterprise_id?: string;
}

export class ExportKeyDto {
  @ApiProperty({ enum: ['export_key'] })
  object: 'export_key';

  @ApiProperty({ example: 'xpk_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty()
  enterprise_id: string;

  @ApiProperty({ type: String, nullable: true })
  label: string | null;

  @ApiProperty({
    enum: EXPORT_KEY_STATUSES,
    description:
      'pending_confirmation: not usable until the operator or another client of the enterprise with orders:approve confirms it; confirmed: exports may name it; revoked: never again',
  })
  status: ExportKeyStatus;

  @ApiProperty({
    description:
      "Fingerprint of the key's primary key, lower-case hex: check it with the key's owner before confirming",
    example: '008482d4482c8d75900613fc82b6e5b24669647c',
  })
  fingerprint: string;

  @ApiProperty({ description: 'Key id of the (sub)key files are encrypted to', example: '8d1ab07d48d93ef0' })
  encryption_key_id: string;

  @ApiProperty({ example: 'rsaEncryptSign 3072' })
  algorithm: string;

  @ApiProperty({ type: [String], example: ['ERP Export <erp@example.com>'] })
  user_ids: string[];

  @ApiProperty()
  registered_by_client_id: string;

  @ApiProperty({ type: String, nullable: true })
  confirmed_by_client_id: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  confirmed_at: string | null;

  @ApiProperty({ type: String, nullable: true })
  revoked_by_client_id: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  revoked_at: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  static from(key: ExportKey): ExportKeyDto {
    return {
      object: 'export_key',
      id: key.id,
      enterprise_id: key.enterpriseId,
      label: key.label,
      status: key.status,
      fingerprint: key.fingerprint,
      encryption_key_id: key.encryptionKeyId,
      algorithm: key.algorithm,
      user_ids: key.userIds,
      registered_by_client_id: key.registeredByClientId,
      confirmed_by_client_id: key.confirmedByClientId,
      confirmed_at: key.confirmedAt?.toISOString() ?? null,
      revoked_by_client_id: key.revokedByClientId,
      revoked_at: key.revokedAt?.toISOString() ?? null,
      created_at: key.createdAt.toISOString(),
    };
  }
}
