import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { ListQueryDto } from '../../common/pagination/pagination';
import { ApiClient, ApiClientSecret } from '../api-client.entity';
import { SCOPES, type Scope } from '../../common/access/scopes';
import { idPattern } from '../../common/ids';

const CIDR = /^(\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?|[0-9a-fA-F:]+(\/\d{1,3})?)$/;

export class CreateApiClientDto {
  @ApiProperty({ example: 'Acme HR system', maxLength: 200 })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiPropertyOptional({
    description: 'Tenant the client acts for; omit for a platform (operator) client',
    example: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB',
  })
  @IsOptional()
  @Matches(idPattern('enterprise'), { message: 'enterprise_id must be an enterprise id' })
  enterprise_id?: string;

  @ApiProperty({ enum: SCOPES, isArray: true, example: ['products:read', 'orders:read', 'orders:write'] })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes: Scope[];

  @ApiPropertyOptional({
    description: 'IPv4/IPv6 addresses or CIDR blocks the client may call from; empty allows any',
    example: ['203.0.113.0/24'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @Matches(CIDR, { each: true, message: 'ip_allowlist entries must be IP addresses or CIDR blocks' })
  ip_allowlist?: string[];

  @ApiPropertyOptional({
    description:
      'Redemption channels (redemptions:write) only: the page of the channel where an employee adds a distributed card to their account. The claim page sends the employee there with `?ticket=` appended; the channel redeems the ticket at POST /v1/redemptions/claim-tickets/{ticket}/bind',
    example: 'https://wallet.example.com/fuli/add-card',
    maxLength: 2000,
  })
  @IsOptional()
  @IsString()
  @Length(1, 2000)
  @Matches(/^https?:\/\/[^\s?#]+(\?[^\s#]*)?$/, { message: 'claim_bind_url must be an http(s) URL without a fragment' })
  claim_bind_url?: string;
}

export class RotateSecretDto {
  @ApiPropertyOptional({
    description: 'How long the current secret keeps working beside the new one, in seconds (0 revokes it now)',
    default: 86_400,
    maximum: 604_800,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(604_800)
  previous_secret_expires_in?: number;
}

export class ListApiClientsQueryDto extends ListQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @Matches(idPattern('enterprise'), { message: 'enterprise_id must be an enterprise id' })
  enterprise_id?: string;

  @ApiPropertyOptional({ enum: ['active', 'revoked'] })
  @IsOptional()
  @IsIn(['active', 'revoked'])
  status?: 'active' | 'revoked';
}

export class ApiClientSecretDto {
  @ApiProperty({ example: 'sec_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty({ description: 'First characters of the secret', example: 'fsk_Zx3f' })
  hint: string;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the secret stops working; null: until rotated',
  })
  expires_at: string | null;

  static from(secret: ApiClientSecret): ApiClientSecretDto {
    return {
      id: secret.id,
      hint: secret.hint,
      created_at: secret.createdAt.toISOString(),
      expires_at: secret.expiresAt?.toISOString() ?? null,
    };
  }
}

export class ApiClientDto {
  @ApiProperty({ enum: ['api_client'] })
  object: 'api_client';

  @ApiProperty({ example: 'cli_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ type: String, nullable: true })
  enterprise_id: string | null;

  @ApiProperty({ enum: SCOPES, isArray: true })
  scopes: Scope[];

  @ApiProperty({ type: [String] })
  ip_allowlist: string[];

  @ApiProperty({ enum: ['active', 'revoked'] })
  status: 'active' | 'revoked';

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Redemption channels: where the claim page sends employees to add a card to their account',
  })
  claim_bind_url: string | null;

  @ApiProperty({ type: [ApiClientSecretDto], description: 'Secrets that still work (at most two, during a rotation)' })
  active_secrets: ApiClientSecretDto[];

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revoked_at: string | null;

  static from(client: ApiClient, activeSecrets: ApiClientSecret[]): ApiClientDto {
    return {
      object: 'api_client',
      id: client.id,
      name: client.name,
      enterprise_id: client.enterpriseId,
      scopes: client.scopes,
      ip_allowlist: client.ipAllowlist,
      claim_bind_url: client.claimBindUrl ?? null,
      status: client.status,
      active_secrets: activeSecrets.map((secret) => ApiClientSecretDto.from(secret)),
      created_at: client.createdAt.toISOString(),
      revoked_at: client.revokedAt?.toISOString() ?? null,
    };
  }
}

/** Returned once, on creation and rotation: the only time the secret is visible. */
export class ApiClientWithSecretDto extends ApiClientDto {
  @ApiProperty({ description: 'Shown once; store it in a secret manager', example: 'fsk_Zx3f…' })
  client_secret: string;
}
