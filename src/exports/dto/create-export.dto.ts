import { ApiHideProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Matches } from 'class-validator';
import { idPattern } from '../../common/ids';

export class CreateExportDto {
  @ApiPropertyOptional({
    description:
      'Id of a registered, confirmed export key of your enterprise (`POST /v1/export-keys`, then ' +
      '`POST /v1/export-keys/{id}/confirm` by another client with orders:approve or the operator): the file is ' +
      'encrypted to it. Required; optional here only so that a request without it gets `export_key_required`.',
    example: 'xpk_01JDQ6ZK6Y8V3N2M4T5R7W9XAB',
  })
  @IsOptional()
  @Matches(idPattern('exportKey'), { message: 'export_key_id must be an export key id (xpk_…)' })
  export_key_id?: string;

  /** No longer accepted (any key a caller sends was the finding); declared only to answer `export_key_required`. */
  @ApiHideProperty()
  @IsOptional()
  @IsString()
  recipient_public_key?: string;

  @ApiPropertyOptional({
    default: false,
    description:
      "Once the file is built, erase the stored code and PIN of the order's anonymous (不记名) cards: only their blind " +
      'index remains, so they still redeem, but no later export or lookup can show their codes again. The file is ' +
      'then the only copy: download it before it expires. Registered cards are never purged. Such an export waits ' +
      'in `awaiting_purge_confirmation` (nothing is built) until the operator or another client with ' +
      'orders:approve confirms it with `POST /v1/exports/{id}/confirm-purge`.',
  })
  @IsOptional()
  @IsBoolean()
  purge_anonymous_after_export?: boolean;
}
