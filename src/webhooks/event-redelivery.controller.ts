import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { RedeliverEventDto, RedeliveryDto } from './dto/webhook.dto';
import { WebhookEndpointsService } from './webhook-endpoints.service';

/** Under /v1/events, but delivery is webhooks' business: events knows nothing of endpoints. */
@ApiTags('events')
@Controller('v1/events')
export class EventRedeliveryController {
  constructor(private readonly endpoints: WebhookEndpointsService) {}

  @Post(':id/redeliver')
  @HttpCode(202)
  @RequireScopes('webhooks:manage')
  @Idempotent()
  @ApiOperation({
    summary: 'Deliver an event again',
    description:
      'To `endpoint_id`, or to every enabled endpoint subscribed to its type. Receivers get the same `webhook-id` ' +
      'as before, so a receiver that deduplicates processes it once.',
    operationId: 'redeliverEvent',
  })
  @ApiAcceptedResponse({ type: RedeliveryDto })
  @ApiNotFoundResponse({ type: Problem, description: 'No such event, or no such endpoint' })
  @ApiConflictResponse({ type: Problem, description: 'webhook_endpoint_disabled' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'no_subscribed_endpoints' })
  redeliver(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Body() dto: RedeliverEventDto,
  ): Promise<RedeliveryDto> {
    return this.endpoints.redeliver(ctx, id, dto);
  }
}
