import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import type { RequestContext } from '../common/context/request-context';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import { SCOPES, type Scope } from '../common/access/scopes';

export class IdentityDto {
  @ApiProperty({ enum: ['identity'] })
  object: 'identity';

  @ApiProperty({ example: 'cli_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' })
  client_id: string;

  @ApiPropertyOptional({ type: String, nullable: true, description: 'null for platform (operator) clients' })
  enterprise_id: string | null;

  @ApiProperty({ enum: SCOPES, isArray: true, description: 'Scopes this token grants now' })
  scopes: Scope[];
}

/** Lets an integrator check which client, tenant and scopes a token stands for. */
@ApiTags('auth')
@Controller('v1/me')
export class IdentityController {
  @Get()
  @RequireScopes()
  @ApiOperation({ summary: 'Who the access token belongs to', operationId: 'getIdentity' })
  @ApiOkResponse({ type: IdentityDto })
  me(@Ctx() ctx: RequestContext): IdentityDto {
    const actor = ctx.actor!;
    return {
      object: 'identity',
      client_id: actor.clientId,
      enterprise_id: actor.enterpriseId,
      scopes: [...actor.scopes],
    };
  }
}
