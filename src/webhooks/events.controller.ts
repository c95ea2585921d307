import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../auth/auth.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { Idempotent } from '../common/idempotency/idempotent.decorator';
import { PageOf, type Page } from '../common/pagination/pagination';
import { EventDto, ListEventsQueryDto, RedeliverEventDto, RedeliveryDto } from './dto/webhook.dto';
import { EventsService } from './events.service';
import { WebhookEndpointsService } from './webhook-endpoints.service';

@ApiTags('events')
@Controller('v1/events')
export class EventsController {
  constructor(
    private readonly events: EventsService,
    private readonly endpoints: WebhookEndpointsService,
  ) {}

  @Get()
  @RequireScopes('events:read')
  @ApiOperation({
    summary: "List your enterprise's events, newest first",
    description: 'Events are immutable and kept at least 30 days; the same objects your webhook endpoints receive.',
    operationId: 'listEvents',
  })
  @ApiOkResponse({ type: PageOf(EventDto) })
  list(@Ctx() ctx: RequestContext, @Query() query: ListEventsQueryDto): Promise<Page<EventDto>> {
    return this.events.list(ctx, query);
  }

  @Get(':id')
  @RequireScopes('events:read')
  @ApiOperation({ summary: 'Get an event', operationId: 'getEvent' })
  @ApiOkResponse({ type: EventDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<EventDto> {
    return this.events.get(ctx, id);
  }

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
