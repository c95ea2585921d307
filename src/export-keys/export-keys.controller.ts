import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { PageOf, type Page } from '../common/pagination/pagination';
import { ConfirmExportKeyDto, ExportKeyDto, ListExportKeysQueryDto, RegisterExportKeyDto } from './dto/export-key.dto';
import { ExportKeysService } from './export-keys.service';

const READERS = 'insufficient_scope: an enterprise client needs cards:secrets or orders:approve (or the operator)';

@ApiTags('exports')
@Controller('v1/export-keys')
export class ExportKeysController {
  constructor(private readonly keys: ExportKeysService) {}

  @Post()
  @RequireScopes('cards:secrets')
  @Idempotent()
  @ApiOperation({
    summary: 'Register an OpenPGP public key as a recipient of card-code exports (usable once confirmed)',
    description:
      'The key is `pending_confirmation` until the operator or another client of your enterprise with ' +
      '`orders:approve` confirms its fingerprint (`POST /v1/export-keys/{id}/confirm`); exports name a confirmed ' +
      'key by `export_key_id`. Check the returned `fingerprint` with the key owner.',
    operationId: 'registerExportKey',
  })
  @ApiCreatedResponse({ type: ExportKeyDto })
  @ApiConflictResponse({ type: Problem, description: 'export_key_exists: this key is registered (and not revoked)' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: 'invalid_recipient_key, private_key_given, too_many_export_keys',
  })
  register(@Ctx() ctx: RequestContext, @Body() dto: RegisterExportKeyDto): Promise<ExportKeyDto> {
    return this.keys.register(ctx, dto);
  }

  @Get()
  @RequireScopes()
  @ApiOperation({ summary: "List your enterprise's export keys, newest first", operationId: 'listExportKeys' })
  @ApiOkResponse({ type: PageOf(ExportKeyDto) })
  @ApiForbiddenResponse({ type: Problem, description: READERS })
  list(@Ctx() ctx: RequestContext, @Query() query: ListExportKeysQueryDto): Promise<Page<ExportKeyDto>> {
    return this.keys.list(ctx, query);
  }

  @Get(':id')
  @RequireScopes()
  @ApiOperation({ summary: 'Get an export key', operationId: 'getExportKey' })
  @ApiOkResponse({ type: ExportKeyDto })
  @ApiForbiddenResponse({ type: Problem, description: READERS })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<ExportKeyDto> {
    return this.keys.get(ctx, id);
  }

  @Post(':id/confirm')
  @HttpCode(200)
  @RequireScopes()
  @Idempotent()
  @ApiOperation({
    summary: 'Confirm a registered export key (the operator, or another client with orders:approve)',
    description:
      'Send the fingerprint you checked with the key owner, out of band; it must be the registered key’s. The ' +
      'client that registered the key cannot confirm it.',
    operationId: 'confirmExportKey',
  })
  @ApiOkResponse({ type: ExportKeyDto })
  @ApiForbiddenResponse({
    type: Problem,
    description: 'insufficient_scope: needs orders:approve (or the operator); self_confirmation_not_allowed',
  })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'invalid_state: the key is confirmed or revoked already' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'fingerprint_mismatch' })
  confirm(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Body() dto: ConfirmExportKeyDto,
  ): Promise<ExportKeyDto> {
    return this.keys.confirm(ctx, id, dto);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @RequireScopes()
  @ApiOperation({
    summary: 'Revoke an export key: no export may name it any more (also refused to builds not started)',
    operationId: 'revokeExportKey',
  })
  @ApiOkResponse({ type: ExportKeyDto })
  @ApiForbiddenResponse({ type: Problem, description: READERS })
  @ApiNotFoundResponse({ type: Problem })
  revoke(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<ExportKeyDto> {
    return this.keys.revoke(ctx, id);
  }
}
