import { Body, Controller, Get, Put, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import {
  ListRiskAlertsQueryDto,
  PutRiskRulesDto,
  RiskAlertPageDto,
  RiskRulesDto,
  RiskRulesQueryDto,
} from './dto/risk.dto';
import { RiskService } from './risk.service';

/** Fraud monitoring, for the operator: the rules' settings and the alerts they raised (README, "Fraud monitoring"). */
@ApiTags('risk')
@RequireScopes('admin')
@Controller('v1/admin')
export class RiskController {
  constructor(private readonly risk: RiskService) {}

  @Get('risk/alerts')
  @ApiOperation({
    summary: 'Alerts raised by the fraud rules, newest first',
    description: 'Each names the rule, the action taken, the figures that crossed it and the objects involved.',
    operationId: 'listRiskAlerts',
  })
  @ApiOkResponse({ type: RiskAlertPageDto })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed' })
  listAlerts(@Ctx() ctx: RequestContext, @Query() query: ListRiskAlertsQueryDto): Promise<RiskAlertPageDto> {
    return this.risk.listAlerts(ctx, query);
  }

  @Get('risk-rules')
  @ApiOperation({
    summary: 'The fraud rules as they apply to every card, an enterprise, or a channel',
    operationId: 'getRiskRules',
  })
  @ApiOkResponse({ type: RiskRulesDto })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed' })
  getRules(@Ctx() ctx: RequestContext, @Query() query: RiskRulesQueryDto): Promise<RiskRulesDto> {
    return this.risk.getRules(ctx, query);
  }

  @Put('risk-rules')
  @ApiOperation({
    summary: "Set fraud rules' thresholds, actions or on/off for every card, an enterprise, or a channel",
    description:
      'A part left out keeps its setting (new: from the scope below: every card, then configuration RISK_RULES, then the default). A channel setting wins over an enterprise one, which wins over the setting for every card. Other API processes apply it within 10 seconds.',
    operationId: 'putRiskRules',
  })
  @ApiOkResponse({ type: RiskRulesDto })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed' })
  putRules(@Ctx() ctx: RequestContext, @Body() dto: PutRiskRulesDto): Promise<RiskRulesDto> {
    return this.risk.putRules(ctx, dto);
  }
}
