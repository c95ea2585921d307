import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { ChannelSettlementQueryDto, DailyReportDto, DailyReportQueryDto } from './dto/operator-report.dto';
import { OperatorReportService } from './operator-report.service';
import { ApiJsonOrSpreadsheet, SPREADSHEET_CONTENT, sendJsonOrSpreadsheet, sendStatementFile } from './file-responses';
import { CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE } from './statement.service';

const BAD_DAY =
  'invalid_date: date is not a real day; validation_failed: a missing or malformed date or an unknown format (errors[])';

/** The operator's daily reports for the issuer's own finance (README "Finance: operator reports"). */
@ApiTags('admin')
@RequireScopes('admin')
@Controller('v1/admin/reports/daily')
export class OperatorReportController {
  constructor(private readonly reports: OperatorReportService) {}

  @Get()
  @ApiOperation({
    summary: "The platform's day from the ledger: float outstanding, issued, redeemed per channel, breakage, refunds",
    description:
      'Every figure is a Σ over the ledger lines booked in the Asia/Shanghai day (listed under `ledger`), read in one ' +
      'snapshot; the float closes at opening + change. As CSV (UTF-8 with BOM) or XLSX: one figure per row, amounts ' +
      'in CNY.',
    operationId: 'getDailyReport',
  })
  @ApiJsonOrSpreadsheet(DailyReportDto)
  @ApiBadRequestResponse({ type: Problem, description: BAD_DAY })
  async daily(
    @Ctx() ctx: RequestContext,
    @Query() query: DailyReportQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await sendJsonOrSpreadsheet(
      reply,
      { format: query.format, accept },
      {
        json: () => this.reports.daily(ctx, query.date),
        file: (format) => this.reports.dailyFile(ctx, query.date, format),
      },
    );
  }

  @Get('channels/:channelId')
  @ApiOperation({
    summary: "A redemption channel's settlement file for the day: its debits and reversals, and their Σ",
    description:
      'Every debit (positive) and reversal (negative) the channel (an API client with redemptions:write) booked in ' +
      "the Asia/Shanghai day, in time order, then a totals row: the daily report's `net` of the channel. CSV by default.",
    operationId: 'getChannelSettlement',
  })
  @ApiProduces(CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE, 'application/problem+json')
  @ApiOkResponse({
    content: SPREADSHEET_CONTENT,
  })
  @ApiBadRequestResponse({ type: Problem, description: BAD_DAY })
  @ApiNotFoundResponse({ type: Problem, description: 'resource_not_found: no API client has that id' })
  async channel(
    @Ctx() ctx: RequestContext,
    @Param('channelId') channelId: string,
    @Query() query: ChannelSettlementQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const format = query.format ?? (accept?.includes(XLSX_CONTENT_TYPE) ? 'xlsx' : 'csv');
    await sendStatementFile(reply, await this.reports.channelFile(ctx, channelId, query.date, format));
  }
}
