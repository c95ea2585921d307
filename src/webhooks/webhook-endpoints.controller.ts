import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { ListQueryDto, PageOf, type Page } from '../common/pagination/pagination';
import {
  CreateWebhookEndpointDto,
  DeletedWebhookEndpointDto,
  ListAttemptsQueryDto,
  RecoverWebhookEndpointDto,
  RotateWebhookSecretDto,
  UpdateWebhookEndpointDto,
  WebhookAttemptDto,
  WebhookDeliveryDto,
  WebhookEndpointDto,
  WebhookEndpointWithSecretDto,
  WebhookRecoveryDto,
} from './dto/webhook.dto';
import { WebhookEndpointsService } from './webhook-endpoints.service';

const URL_REFUSALS =
  'invalid_webhook_url, webhook_url_not_https (production), webhook_url_private_address (private, loopback, ' +
  'link-local or metadata address), webhook_url_unresolvable, unknown_event_type, invalid_event_types';

@ApiTags('webhooks')
@RequireScopes('webhooks:manage')
@Controller('v1/webhook-endpoints')
export class WebhookEndpointsController {
  constructor(private readonly endpoints: WebhookEndpointsService) {}

  @Post()
  @Idempotent()
  @ApiOperation({
    summary: 'Register a webhook endpoint; its signing secret is shown once',
    description:
      'Events of your enterprise whose type is in `event_types` (or all, with `["*"]`) are POSTed to `url`, signed ' +
      'to the Standard Webhooks spec with the returned `whsec_` secret. At most 20 endpoints per enterprise.',
    operationId: 'createWebhookEndpoint',
  })
  @ApiCreatedResponse({ type: WebhookEndpointWithSecretDto })
  @ApiUnprocessableEntityResponse({ type: Problem, description: `${URL_REFUSALS}, too_many_webhook_endpoints` })
  create(@Ctx() ctx: RequestContext, @Body() dto: CreateWebhookEndpointDto): Promise<WebhookEndpointWithSecretDto> {
    return this.endpoints.create(ctx, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List webhook endpoints', operationId: 'listWebhookEndpoints' })
  @ApiOkResponse({ type: PageOf(WebhookEndpointDto) })
  list(@Ctx() ctx: RequestContext, @Query() query: ListQueryDto): Promise<Page<WebhookEndpointDto>> {
    return this.endpoints.list(ctx, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a webhook endpoint', operationId: 'getWebhookEndpoint' })
  @ApiOkResponse({ type: WebhookEndpointDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<WebhookEndpointDto> {
    return this.endpoints.get(ctx, id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change, disable or re-enable a webhook endpoint',
    description: 'Disabling fails its pending deliveries (replay them later with recover).',
    operationId: 'updateWebhookEndpoint',
  })
  @ApiOkResponse({ type: WebhookEndpointDto })
  @ApiNotFoundResponse({ type: Problem })
  @ApiUnprocessableEntityResponse({ type: Problem, description: URL_REFUSALS })
  update(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Body() dto: UpdateWebhookEndpointDto,
  ): Promise<WebhookEndpointDto> {
    return this.endpoints.update(ctx, id, dto);
  }

  @Delete(':id')
  @ApiOperation({
    summary: 'Delete a webhook endpoint; its pending deliveries stop',
    operationId: 'deleteWebhookEndpoint',
  })
  @ApiOkResponse({ type: DeletedWebhookEndpointDto })
  @ApiNotFoundResponse({ type: Problem })
  remove(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<DeletedWebhookEndpointDto> {
    return this.endpoints.remove(ctx, id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({
    summary: 'Rotate the signing secret; the old one keeps signing beside it for a grace period',
    description:
      'Until `previous_secret_expires_at`, every delivery carries two `v1,` signatures (new and old) in ' +
      '`webhook-signature`, so receivers can switch secrets without missing a delivery.',
    operationId: 'rotateWebhookEndpointSecret',
  })
  @ApiOkResponse({ type: WebhookEndpointWithSecretDto })
  @ApiNotFoundResponse({ type: Problem })
  rotateSecret(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Body() dto: RotateWebhookSecretDto,
  ): Promise<WebhookEndpointWithSecretDto> {
    return this.endpoints.rotateSecret(ctx, id, dto);
  }

  @Post(':id/test')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send a ping event to this endpoint',
    description: 'Follow the returned delivery in GET /v1/webhook-endpoints/{id}/attempts.',
    operationId: 'testWebhookEndpoint',
  })
  @ApiAcceptedResponse({ type: WebhookDeliveryDto })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'webhook_endpoint_disabled' })
  test(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<WebhookDeliveryDto> {
    return this.endpoints.test(ctx, id);
  }

  @Get(':id/attempts')
  @ApiOperation({
    summary: 'List delivery attempts to this endpoint, newest first',
    description: 'Each attempt: HTTP status (or why none came), latency and the first 1 KB of the response body.',
    operationId: 'listWebhookAttempts',
  })
  @ApiOkResponse({ type: PageOf(WebhookAttemptDto) })
  @ApiNotFoundResponse({ type: Problem })
  attempts(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Query() query: ListAttemptsQueryDto,
  ): Promise<Page<WebhookAttemptDto>> {
    return this.endpoints.attempts(ctx, id, query);
  }

  @Post(':id/recover')
  @HttpCode(202)
  @Idempotent()
  @ApiOperation({
    summary: 'Replay every delivery to this endpoint that failed for good since a time',
    description: 'For after an outage: each failed delivery is scheduled again with a fresh retry schedule.',
    operationId: 'recoverWebhookEndpoint',
  })
  @ApiAcceptedResponse({ type: WebhookRecoveryDto })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'webhook_endpoint_disabled: enable it first' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'recovery_window_exceeded (more than 30 days back)' })
  recover(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Body() dto: RecoverWebhookEndpointDto,
  ): Promise<WebhookRecoveryDto> {
    return this.endpoints.recover(ctx, id, dto);
  }
}
