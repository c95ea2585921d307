import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';

/** A download token: 32 random bytes, base64url. */
export const DOWNLOAD_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Header that carries the download token, so that it stays out of URLs (proxy and server logs, Referer). */
export const DOWNLOAD_TOKEN_HEADER = 'X-Download-Token';

export class DownloadQueryDto {
  @ApiPropertyOptional({
    description:
      'One-time token from the `download` object of `GET /v1/exports/{id}` (43 base64url characters), for the ' +
      'link form that browsers open. Programs send it in the `X-Download-Token` header instead, which keeps it ' +
      'out of URLs and the logs that record them.',
    example: 'm2Vb3c0Yk9f4R1sQ7xT6uP8wZ5aN0dL2hJ3gK4eC1iA',
    pattern: DOWNLOAD_TOKEN_PATTERN.source,
  })
  @IsOptional()
  @IsString()
  @Matches(DOWNLOAD_TOKEN_PATTERN, { message: 'token must be 43 base64url characters' })
  token?: string;
}
