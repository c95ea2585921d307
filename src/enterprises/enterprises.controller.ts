import { Body, Controller, Get, Param, Patch } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { EnterpriseDto } from './dto/enterprise.dto';
import { EnterpriseSettingsDto } from './dto/enterprise-settings.dto';
import { EnterprisesService } from './enterprises.service';

/** A tenant reading its own profile; any valid token will do, and another tenant's id is a 404. */
@ApiTags('enterprises')
@RequireScopes()
@Controller('v1/enterprises')
export class EnterprisesController {
  constructor(private readonly enterprises: EnterprisesService) {}

  @Get(':id')
  @ApiOperation({
    summary: "Get the caller's enterprise: invoice details, pricing, credit line",
    operationId: 'getOwnEnterprise',
  })
  @ApiOkResponse({ type: EnterpriseDto })
  @ApiNotFoundResponse({ type: Problem, description: "resource_not_found, also for another tenant's id" })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<EnterpriseDto> {
    return this.enterprises.get(ctx, id);
  }

  @Patch(':id')
  @RequireScopes('orders:approve')
  @ApiOperation({
    summary: "Set the enterprise's own approval threshold for orders",
    operationId: 'updateOwnEnterpriseSettings',
  })
  @ApiOkResponse({ type: EnterpriseDto })
  @ApiNotFoundResponse({ type: Problem, description: "resource_not_found, also for another tenant's id" })
  updateSettings(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Body() dto: EnterpriseSettingsDto,
  ): Promise<EnterpriseDto> {
    return this.enterprises.update(ctx, id, dto);
  }
}
