import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiGoneResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { SPREADSHEET_CONTENT } from './file-responses';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { CreateStatementRunDto, StatementRunDto } from './dto/statement-run.dto';
import { StatementRunService } from './statement-run.service';
import { CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE } from './statement.service';

/** Statement files built by a worker, for periods too large to stream within one request. */
@ApiTags('reconciliation')
@RequireScopes('reconciliation:read')
@Controller('v1/statement-runs')
export class StatementRunController {
  constructor(private readonly runs: StatementRunService) {}

  @Post()
  @HttpCode(202)
  @Idempotent()
  @ApiOperation({
    summary: 'Ask for a statement file (CSV or XLSX) to be built by a worker',
    description:
      'The same file as GET /v1/statements?format=, built in the background and kept 7 days: poll GET ' +
      '/v1/statement-runs/{id} or wait for the statement.ready event, then GET its download_url with the same token.',
    operationId: 'createStatementRun',
  })
  @ApiAcceptedResponse({ type: StatementRunDto, description: 'Accepted: the file is being built' })
  @ApiBadRequestResponse({
    type: Problem,
    description:
      'invalid_date, invalid_period (from after to, or an empty period), validation_failed (a missing bound or format)',
  })
  create(@Ctx() ctx: RequestContext, @Body() dto: CreateStatementRunDto): Promise<StatementRunDto> {
    return this.runs.create(ctx, dto);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'A statement run: its status and, once ready, its download_url',
    operationId: 'getStatementRun',
  })
  @ApiOkResponse({ type: StatementRunDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<StatementRunDto> {
    return this.runs.get(ctx, id);
  }

  @Get(':id/file')
  @ApiOperation({ summary: "Download a ready statement run's file", operationId: 'downloadStatementRun' })
  @ApiProduces(CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE, 'application/problem+json')
  @ApiOkResponse({
    content: SPREADSHEET_CONTENT,
  })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'statement_run_not_ready: still being built' })
  @ApiGoneResponse({ type: Problem, description: 'statement_run_expired: expired, or the build failed' })
  async file(@Ctx() ctx: RequestContext, @Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const file = await this.runs.file(ctx, id);
    await reply
      .header('content-type', file.contentType)
      .header('content-disposition', `attachment; filename="${file.fileName}"`)
      .header('content-length', String(file.sizeBytes))
      .header('digest', `sha-256=${Buffer.from(file.sha256, 'hex').toString('base64')}`)
      .header('cache-control', 'no-store')
      .send(file.body);
  }
}
