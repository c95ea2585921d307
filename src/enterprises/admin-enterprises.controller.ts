import { Body, Controller, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { type Page, PageOf } from '../common/pagination/pagination';
import { CreateEnterpriseDto } from './dto/create-enterprise.dto';
import { EnterpriseDto } from './dto/enterprise.dto';
import { ListEnterprisesQueryDto } from './dto/list-enterprises-query.dto';
import { UpdateEnterpriseDto } from './dto/update-enterprise.dto';
import { EnterprisesService } from './enterprises.service';

const EnterpriseList = PageOf(EnterpriseDto);

/** Operator endpoints for tenants. */
@ApiTags('admin')
@RequireScopes('admin')
@Controller('v1/admin/enterprises')
export class AdminEnterprisesController {
  constructor(private readonly enterprises: EnterprisesService) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @Idempotent()
  @ApiOperation({ summary: 'Create an enterprise (tenant)', operationId: 'createEnterprise' })
  @ApiCreatedResponse({ type: EnterpriseDto })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed: a field is missing, malformed or unknown' })
  @ApiConflictResponse({
    type: Problem,
    description: 'enterprise_exists: the credit code is already registered; `existing_id` names that enterprise',
  })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'invalid_credit_code: the check character is wrong' })
  create(@Ctx() ctx: RequestContext, @Body() dto: CreateEnterpriseDto): Promise<EnterpriseDto> {
    return this.enterprises.create(ctx, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List enterprises, newest first', operationId: 'listEnterprises' })
  @ApiOkResponse({ type: EnterpriseList })
  @ApiBadRequestResponse({ type: Problem, description: 'Invalid filter or cursor' })
  list(@Ctx() ctx: RequestContext, @Query() query: ListEnterprisesQueryDto): Promise<Page<EnterpriseDto>> {
    return this.enterprises.list(ctx, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an enterprise', operationId: 'getEnterprise' })
  @ApiOkResponse({ type: EnterpriseDto })
  @ApiNotFoundResponse({ type: Problem, description: 'resource_not_found' })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<EnterpriseDto> {
    return this.enterprises.get(ctx, id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Update an enterprise: name, invoice and tax details, pricing, credit line, status',
    operationId: 'updateEnterprise',
  })
  @ApiOkResponse({ type: EnterpriseDto })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed' })
  @ApiNotFoundResponse({ type: Problem, description: 'resource_not_found' })
  update(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Body() dto: UpdateEnterpriseDto,
  ): Promise<EnterpriseDto> {
    return this.enterprises.update(ctx, id, dto);
  }
}
