import { ApiProperty } from '@nestjs/swagger';
import { SEALED_COLUMN_NAMES } from '../sealed-columns';

export class ColumnRowsDto {
  @ApiProperty({ enum: SEALED_COLUMN_NAMES, example: 'cards.secret_ciphertext' })
  column: string;

  @ApiProperty({ example: 100_000 })
  rows: number;
}

export class DataKeyDto {
  @ApiProperty({ example: 'k1' })
  key_id: string;

  @ApiProperty({ description: 'New data is sealed with this key (the first of DATA_ENCRYPTION_KEYS)' })
  active: boolean;

  @ApiProperty({
    description:
      'Listed in DATA_ENCRYPTION_KEYS. A key id the data names but the configuration does not: those rows cannot be decrypted',
  })
  configured: boolean;

  @ApiProperty({ description: 'Envelopes under this key, all columns together', example: 0 })
  rows: number;

  @ApiProperty({ type: [ColumnRowsDto], description: 'Envelopes under this key per encrypted column' })
  columns: ColumnRowsDto[];

  @ApiProperty({
    description:
      'Configured, not active, and no row uses it: it can be taken out of DATA_ENCRYPTION_KEYS (keep it archived while backups sealed with it are kept)',
  })
  removable: boolean;
}

export class CodePepperDto {
  @ApiProperty({
    example: 'p0',
    description:
      'A CODE_PEPPER id (a bare CODE_PEPPER is `p0`), or `legacy`: cards indexed with the raw pepper p0 before pepper ids',
  })
  key_id: string;

  @ApiProperty({ description: 'New cards are indexed under this pepper (the first of CODE_PEPPER)' })
  active: boolean;

  @ApiProperty({
    description: 'Listed in CODE_PEPPER (`legacy`: p0 is). Cards under a pepper not listed are not found',
  })
  configured: boolean;

  @ApiProperty({ description: 'Cards whose blind index and PIN digest are under this pepper', example: 0 })
  cards: number;

  @ApiProperty({
    description:
      'Configured, not active, and no card needs it (for p0: no legacy card either): it can be taken out of CODE_PEPPER',
  })
  removable: boolean;
}

export class DataKeysDto {
  @ApiProperty({ enum: ['data_keys'] })
  object: 'data_keys';

  @ApiProperty({ example: 'k2' })
  active_key_id: string;

  @ApiProperty({
    type: [DataKeyDto],
    description: 'The configured keys in DATA_ENCRYPTION_KEYS order, then any other key id found in the data',
  })
  keys: DataKeyDto[];

  @ApiProperty({
    type: [CodePepperDto],
    description:
      'The CODE_PEPPER ids in order, then `legacy` and any other id the cards name: blind indexes and PIN digests per pepper',
  })
  code_peppers: CodePepperDto[];

  @ApiProperty({ format: 'date-time', description: 'When the rows were counted' })
  counted_at: string;
}
