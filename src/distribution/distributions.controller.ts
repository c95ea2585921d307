import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { PageOf, type Page } from '../common/pagination/pagination';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { reportCsv } from './distribution-report';
import { DistributionsService } from './distributions.service';
import { CreateDistributionDto } from './dto/create-distribution.dto';
import {
  CreatedDistributionDto,
  DistributionDto,
  ListDistributionsQueryDto,
  ListRecipientsQueryDto,
  RecipientDto,
} from './dto/distribution.dto';

@ApiTags('distributions')
@Controller('v1/distributions')
export class DistributionsController {
  constructor(private readonly distributions: DistributionsService) {}

  @Post()
  @RequireScopes('distributions:write')
  @Idempotent()
  @ApiOperation({
    summary: "Distribute an issued order's cards to employees",
    description:
      'Recipients inline (up to 10,000) or from an uploaded file (file_id, up to 100,000 rows); one card each, by ' +
      'face value or serial, sent by email, sms, link (the claim URL is in this response, once) or bound to an ' +
      'account. Every row is checked first: any bad row (422 invalid_recipients, each with row, field and code) ' +
      'reserves nothing. Cards are then reserved all or none, each card for one recipient at most. Registered ' +
      'cards need real_name, stored encrypted and shown masked. Sending starts at send_at (absent: now).',
    operationId: 'createDistribution',
  })
  @ApiCreatedResponse({ type: CreatedDistributionDto })
  @ApiBadRequestResponse({
    type: Problem,
    description:
      'validation_failed (each fault in `errors`); recipients_or_file_id: neither or both of recipients and file_id',
  })
  @ApiNotFoundResponse({ type: Problem, description: 'No such order (or file) in your enterprise' })
  @ApiConflictResponse({
    type: Problem,
    description: 'order_not_issued, file_already_used, card_assignment_conflict (retry), or a key in flight',
  })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description:
      'invalid_recipients (errors: row, field, code; error_count), real_name_required, insufficient_cards (cards: ' +
      'face_value, card_type, requested, free), order_exported, file_expired, file_has_errors, idempotency_key_reused',
  })
  create(@Ctx() ctx: RequestContext, @Body() dto: CreateDistributionDto): Promise<CreatedDistributionDto> {
    return this.distributions.create(ctx, dto);
  }

  @Get()
  @RequireScopes('distributions:read')
  @ApiOperation({ summary: 'List distributions, newest first', operationId: 'listDistributions' })
  @ApiOkResponse({ type: PageOf(DistributionDto) })
  list(@Ctx() ctx: RequestContext, @Query() query: ListDistributionsQueryDto): Promise<Page<DistributionDto>> {
    return this.distributions.list(ctx, query);
  }

  @Get(':id')
  @RequireScopes('distributions:read')
  @ApiOperation({
    summary: 'A distribution: status, recipients per status, rate and ETA while sending',
    operationId: 'getDistribution',
  })
  @ApiOkResponse({ type: DistributionDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<DistributionDto> {
    return this.distributions.get(ctx, id);
  }

  @Get(':id/recipients')
  @RequireScopes('distributions:read')
  @ApiOperation({
    summary: "A distribution's recipients, newest first, by status",
    description: 'Real names masked; never a claim link, code or PIN.',
    operationId: 'listDistributionRecipients',
  })
  @ApiOkResponse({ type: PageOf(RecipientDto) })
  @ApiNotFoundResponse({ type: Problem })
  recipients(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Query() query: ListRecipientsQueryDto,
  ): Promise<Page<RecipientDto>> {
    return this.distributions.recipients(ctx, id, query);
  }

  @Get(':id/report.csv')
  @RequireScopes('distributions:read')
  @ApiOperation({
    summary: 'The distribution as CSV: one row per recipient, in row order',
    description:
      'UTF-8 with a BOM. No code, PIN or claim link. A cell starting with = + - @ (or a tab or carriage return) ' +
      'is prefixed with an apostrophe, so that a spreadsheet shows it instead of running it.',
    operationId: 'getDistributionReport',
  })
  @ApiProduces('text/csv', 'application/problem+json')
  @ApiOkResponse({ description: 'The report', content: { 'text/csv': { schema: { type: 'string' } } } })
  @ApiNotFoundResponse({ type: Problem })
  async report(@Ctx() ctx: RequestContext, @Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const distribution = await this.distributions.find(ctx, id);
    void reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${distribution.id}.csv"`)
      .header('cache-control', 'no-store');
    await reply.send(reportCsv(this.distributions.recipientsInOrder(ctx, id)));
  }
}
