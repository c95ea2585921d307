import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';

/** Largest armored public key accepted (an RSA-4096 key with many signatures stays far below). */
export const MAX_PUBLIC_KEY_CHARS = 100_000;

export class CreateExportDto {
  @ApiProperty({
    description:
      'ASCII-armored OpenPGP public key the file is encrypted to (`gpg --armor --export <you>`). It needs a valid, ' +
      'unexpired encryption (sub)key: RSA ≥ 2048 bits, or ECDH (Curve25519, NIST P-256/384/521). Only the holder of ' +
      'the matching private key can read the export; the server never can.',
    example: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ…\n-----END PGP PUBLIC KEY BLOCK-----\n',
    maxLength: MAX_PUBLIC_KEY_CHARS,
  })
  @IsString()
  @MaxLength(MAX_PUBLIC_KEY_CHARS)
  recipient_public_key: string;

  @ApiPropertyOptional({
    default: false,
    description:
      "Once the file is built, erase the stored code and PIN of the order's anonymous (不记名) cards: only their blind " +
      'index remains, so they still redeem, but no later export or lookup can show their codes again. The file is ' +
      'then the only copy: download it before it expires. Registered cards are never purged.',
  })
  @IsOptional()
  @IsBoolean()
  purge_anonymous_after_export?: boolean;
}
