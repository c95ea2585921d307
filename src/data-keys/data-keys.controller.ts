import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { type Page, PageOf } from '../common/pagination/pagination';
import { DataKeysService } from './data-keys.service';
import { DataKeysDto } from './dto/data-keys.dto';
import { ListReencryptionsQueryDto, ReencryptionDto, StartReencryptionDto } from './dto/reencryption.dto';

const ReencryptionList = PageOf(ReencryptionDto);

/** Operator endpoints for data-encryption keys (DATA_ENCRYPTION_KEYS): usage and re-encryption after a rotation. */
@ApiTags('admin')
@RequireScopes('admin')
@Controller('v1/admin/keys')
export class DataKeysController {
  constructor(private readonly keys: DataKeysService) {}

  @Get()
  @ApiOperation({
    summary: 'Data-encryption keys and how many encrypted rows each one still seals',
    description:
      'Counts every envelope by its key id (one pass over each encrypted table: about a second per few million ' +
      'cards). A key that is configured, not active and seals no row is `removable` from DATA_ENCRYPTION_KEYS. ' +
      'Key ids only: key material is never shown.',
    operationId: 'getDataKeys',
  })
  @ApiOkResponse({ type: DataKeysDto })
  usage(@Ctx() ctx: RequestContext): Promise<DataKeysDto> {
    return this.keys.usage(ctx);
  }

  @Post('re-encryptions')
  @HttpCode(202)
  @Idempotent()
  @ApiOperation({
    summary: 'Re-encrypt every encrypted row under the active key (after adding a new first key)',
    description:
      'Starts, in the background, a walk over every encrypted column (card codes and PINs, purchaser ' +
      'identities, stored Idempotency-Key responses) that opens each envelope not sealed with the active key ' +
      'and seals it again with it, in short transactions, never overwriting a row changed meanwhile. Poll ' +
      '`GET /v1/admin/keys/re-encryptions/{id}` for progress. Restart every API and worker process with the new ' +
      'DATA_ENCRYPTION_KEYS first: a worker whose active key differs refuses the run. Safe to repeat: a run with ' +
      'nothing left to move only counts.',
    operationId: 'startReencryption',
  })
  @ApiAcceptedResponse({ type: ReencryptionDto, description: 'Accepted: the run is queued' })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed' })
  @ApiConflictResponse({
    type: Problem,
    description: 'reencryption_in_progress: another run is queued or running (`reencryption_id` names it)',
  })
  start(@Ctx() ctx: RequestContext, @Body() dto: StartReencryptionDto): Promise<ReencryptionDto> {
    return this.keys.start(ctx, dto);
  }

  @Get('re-encryptions')
  @ApiOperation({ summary: 'List re-encryption runs, newest first', operationId: 'listReencryptions' })
  @ApiOkResponse({ type: ReencryptionList })
  @ApiBadRequestResponse({ type: Problem, description: 'Invalid cursor' })
  list(@Ctx() ctx: RequestContext, @Query() query: ListReencryptionsQueryDto): Promise<Page<ReencryptionDto>> {
    return this.keys.list(ctx, query);
  }

  @Get('re-encryptions/:id')
  @ApiOperation({
    summary: 'A re-encryption run: status and progress per column and key id',
    operationId: 'getReencryption',
  })
  @ApiOkResponse({ type: ReencryptionDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<ReencryptionDto> {
    return this.keys.get(ctx, id);
  }
}
