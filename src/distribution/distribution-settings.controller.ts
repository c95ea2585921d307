import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { DistributionSettingsService } from './distribution-settings.service';
import { DistributionSettingsDto, UpdateDistributionSettingsDto } from './dto/distribution-settings.dto';

@ApiTags('distributions')
@Controller('v1/distribution-settings')
export class DistributionSettingsController {
  constructor(private readonly settings: DistributionSettingsService) {}

  @Get()
  @RequireScopes('distributions:read')
  @ApiOperation({ summary: "The enterprise's distribution settings", operationId: 'getDistributionSettings' })
  @ApiOkResponse({ type: DistributionSettingsDto })
  get(@Ctx() ctx: RequestContext): Promise<DistributionSettingsDto> {
    return this.settings.get(ctx);
  }

  @Put()
  @RequireScopes('distributions:write')
  @ApiOperation({
    summary: 'Replace the distribution settings',
    description:
      'from_name: the sender of e-mails and the claim page; code_in_message: put anonymous cards’ code and PIN in ' +
      'the message itself (off: the claim page only; registered cards never); claim_link_ttl_days: 1–90. A field ' +
      'left out takes its default. Applies to links issued from now on.',
    operationId: 'updateDistributionSettings',
  })
  @ApiOkResponse({ type: DistributionSettingsDto })
  put(@Ctx() ctx: RequestContext, @Body() dto: UpdateDistributionSettingsDto): Promise<DistributionSettingsDto> {
    return this.settings.put(ctx, dto);
  }
}
