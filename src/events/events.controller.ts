import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { PageOf, type Page } from '../common/pagination/pagination';
import { EventDto, ListEventsQueryDto } from './dto/event.dto';
import { EventsService } from './events.service';

@ApiTags('events')
@Controller('v1/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

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
}
