import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { RedemptionSummaryDto } from './dto/redemption-summary.dto';
import { StatementPeriodQueryDto } from './dto/statement.dto';
import { RedemptionSummaryService } from './redemption-summary.service';

/** Redemption (核销) status of an enterprise's cards, for its ERP. */
@ApiTags('reconciliation')
@RequireScopes('reconciliation:read')
@Controller('v1')
export class RedemptionSummaryController {
  constructor(private readonly summaries: RedemptionSummaryService) {}

  @Get('orders/:id/redemption-summary')
  @ApiOperation({
    summary: "An order's cards by redemption (核销) status, with counts and amounts",
    operationId: 'getOrderRedemptionSummary',
  })
  @ApiOkResponse({ type: RedemptionSummaryDto })
  @ApiNotFoundResponse({ type: Problem, description: 'No such order of yours' })
  ofOrder(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<RedemptionSummaryDto> {
    return this.summaries.ofOrder(ctx, id);
  }

  @Get('redemption-summary')
  @ApiOperation({
    summary: 'The cards of your orders paid in a period, by redemption (核销) status',
    description: 'The period as for statements: Asia/Shanghai days or instants with their offset.',
    operationId: 'getRedemptionSummary',
  })
  @ApiOkResponse({ type: RedemptionSummaryDto })
  @ApiBadRequestResponse({ type: Problem, description: 'invalid_date, invalid_period, validation_failed' })
  ofPeriod(@Ctx() ctx: RequestContext, @Query() query: StatementPeriodQueryDto): Promise<RedemptionSummaryDto> {
    return this.summaries.ofPeriod(ctx, query);
  }
}
