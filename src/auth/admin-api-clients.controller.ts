import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { PageOf, type Page } from '../common/pagination/pagination';
import { ApiClientsService } from './api-clients.service';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import {
  ApiClientDto,
  ApiClientWithSecretDto,
  CreateApiClientDto,
  ListApiClientsQueryDto,
  RotateSecretDto,
} from './dto/api-client.dto';

@ApiTags('admin')
@RequireScopes('admin')
@Controller('v1/admin/api-clients')
export class AdminApiClientsController {
  constructor(private readonly clients: ApiClientsService) {}

  @Post()
  @Idempotent()
  @ApiOperation({ summary: 'Create an API client; its secret is shown once', operationId: 'createApiClient' })
  @ApiCreatedResponse({ type: ApiClientWithSecretDto })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description:
      'scope_not_allowed: operator scopes (admin, redemptions:write) on an enterprise client, or enterprise scopes ' +
      'without an enterprise_id; enterprise_not_found; claim_bind_url_not_allowed: a claim_bind_url on a client ' +
      'that is not a redemption channel',
  })
  create(@Ctx() ctx: RequestContext, @Body() dto: CreateApiClientDto): Promise<ApiClientWithSecretDto> {
    return this.clients.create(ctx, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List API clients', operationId: 'listApiClients' })
  @ApiOkResponse({ type: PageOf(ApiClientDto) })
  list(@Ctx() ctx: RequestContext, @Query() query: ListApiClientsQueryDto): Promise<Page<ApiClientDto>> {
    return this.clients.list(ctx, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an API client', operationId: 'getApiClient' })
  @ApiOkResponse({ type: ApiClientDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<ApiClientDto> {
    return this.clients.get(ctx, id);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Revoke an API client: its secrets and tokens stop working',
    operationId: 'revokeApiClient',
  })
  @ApiOkResponse({ type: ApiClientDto })
  @ApiNotFoundResponse({ type: Problem })
  revoke(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<ApiClientDto> {
    return this.clients.revoke(ctx, id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({
    summary: 'Issue a new secret; the current one keeps working for a grace period',
    operationId: 'rotateApiClientSecret',
  })
  @ApiOkResponse({ type: ApiClientWithSecretDto })
  @ApiNotFoundResponse({ type: Problem })
  rotateSecret(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Body() dto: RotateSecretDto,
  ): Promise<ApiClientWithSecretDto> {
    return this.clients.rotateSecret(ctx, id, dto);
  }
}
