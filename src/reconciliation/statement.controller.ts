import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { type Page, PageOf } from '../common/pagination/pagination';
import { StatementDto, StatementLineDto, StatementLinesQueryDto, StatementQueryDto } from './dto/statement.dto';
import { ApiJsonOrSpreadsheet, sendJsonOrSpreadsheet } from './file-responses';
import { StatementService } from './statement.service';

const BAD_PERIOD =
  'invalid_date: from or to is neither a day (YYYY-MM-DD) nor an instant with its offset; invalid_period: from is ' +
  'after to; validation_failed: a missing bound, an unknown format or a bad cursor (each in errors[])';

/** An enterprise's statements (finance). */
@ApiTags('reconciliation')
@RequireScopes('reconciliation:read')
@Controller('v1/statements')
export class StatementController {
  constructor(private readonly statements: StatementService) {}

  @Get()
  @ApiOperation({
    summary: 'Get a statement: opening positions, movements by kind, closing positions; or every line as CSV/XLSX',
    description:
      'Every figure is a sum over the ledger, and opening + movements = closing exactly. As CSV (UTF-8 with BOM) or ' +
      'XLSX, the lines of the period are streamed in time order with a totals row (amounts in CNY).',
    operationId: 'getStatement',
  })
  @ApiJsonOrSpreadsheet(StatementDto)
  @ApiBadRequestResponse({ type: Problem, description: BAD_PERIOD })
  async get(
    @Ctx() ctx: RequestContext,
    @Query() query: StatementQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await sendJsonOrSpreadsheet(
      reply,
      { format: query.format, accept },
      {
        json: () => this.statements.statement(ctx, query),
        file: (format) => this.statements.file(ctx, query, format),
      },
    );
  }

  @Get('lines')
  @ApiOperation({
    summary: "A page of the statement's lines, in time order",
    description:
      'Each ledger entry moving your funds or minting your cards, and each movement of one of your cards, with its ' +
      'order, PO number, invoice number, card serial and redemption reference. Amounts in fen.',
    operationId: 'listStatementLines',
  })
  @ApiOkResponse({ type: PageOf(StatementLineDto) })
  @ApiBadRequestResponse({
    type: Problem,
    description: `${BAD_PERIOD}; invalid_cursor: starting_after alone is not a next_cursor of this list`,
  })
  lines(@Ctx() ctx: RequestContext, @Query() query: StatementLinesQueryDto): Promise<Page<StatementLineDto>> {
    return this.statements.lines(ctx, query);
  }
}
