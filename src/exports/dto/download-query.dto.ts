import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';

export class DownloadQueryDto {
  @ApiProperty({
    description: 'One-time token from the `download` object of `GET /v1/exports/{id}` (43 base64url characters)',
    example: 'm2Vb3c0Yk9f4R1sQ7xT6uP8wZ5aN0dL2hJ3gK4eC1iA',
    pattern: '^[A-Za-z0-9_-]{43}$',
  })
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'token must be 43 base64url characters' })
  token: string;
}
