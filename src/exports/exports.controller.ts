import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiGoneResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Ctx, Public, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { CardExportDto } from './dto/card-export.dto';
import { CreateExportDto } from './dto/create-export.dto';
import { ListExportsQueryDto } from './dto/list-exports.dto';
import { PageOf, type Page } from '../common/pagination/pagination';
import { DOWNLOAD_TOKEN_HEADER, DownloadQueryDto } from './dto/download-query.dto';
import { downloadTokenOf, EXPORT_CONTENT_TYPE } from './export-policy';
import { ExportsService } from './exports.service';

@ApiTags('exports')
@Controller('v1')
export class ExportsController {
  constructor(private readonly exports: ExportsService) {}

  @Post('orders/:id/exports')
  @HttpCode(202)
  @RequireScopes('cards:secrets')
  @Idempotent()
  @ApiOperation({
    summary: "Export an issued order's card codes and PINs, encrypted to your OpenPGP key",
    description:
      'Starts building, in the background, a CSV of every card of the order (serial, code, PIN, face value in fen, ' +
      'expiry) encrypted to the registered, confirmed export key `export_key_id`. Poll `GET /v1/exports/{id}` until `status` is `ready`, then ' +
      'download once with the link it returns. Decrypt with `gpg --decrypt` and compare `sha256sum` of the CSV ' +
      'with `manifest.plaintext_sha256`.',
    operationId: 'createCardExport',
  })
  @ApiAcceptedResponse({ type: CardExportDto, description: 'Accepted: the export is pending' })
  @ApiNotFoundResponse({ type: Problem, description: 'No such order in your enterprise' })
  @ApiConflictResponse({
    type: Problem,
    description:
      'invalid_state: the order is not issued; export_in_progress: another export of the order is being built; card_secrets_purged: an export purging its anonymous codes exists; order_distributed: its cards are handed to employees by a distribution, who alone see the codes',
  })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description:
      'export_key_required (no export_key_id, or a key sent in the request), export_key_not_found, export_key_not_confirmed, export_key_revoked, invalid_recipient_key (the key expired since)',
  })
  create(@Ctx() ctx: RequestContext, @Param('id') id: string, @Body() dto: CreateExportDto): Promise<CardExportDto> {
    return this.exports.create(ctx, id, dto);
  }

  @Post('exports/:id/confirm-purge')
  @HttpCode(200)
  @RequireScopes()
  @Idempotent()
  @ApiOperation({
    summary: 'Confirm the purge of a purging export (the operator, or another client with orders:approve)',
    description:
      'An export with `purge_anonymous_after_export` waits in `awaiting_purge_confirmation`, building nothing, ' +
      "until this call: then it is built and the order's anonymous codes are purged. The client that requested " +
      'the export cannot confirm it.',
    operationId: 'confirmCardExportPurge',
  })
  @ApiOkResponse({ type: CardExportDto })
  @ApiForbiddenResponse({
    type: Problem,
    description: 'insufficient_scope: needs orders:approve (or the operator); self_confirmation_not_allowed',
  })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({
    type: Problem,
    description: 'invalid_state: it awaits no purge confirmation; export_in_progress; card_secrets_purged',
  })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'export_key_revoked: its key was revoked meanwhile' })
  confirmPurge(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<CardExportDto> {
    return this.exports.confirmPurge(ctx, id);
  }

  @Get('exports')
  @RequireScopes('cards:secrets')
  @ApiOperation({
    summary: "List your enterprise's card exports, newest first (filters: order, creation time)",
    description:
      'Status and manifest of each export, never a download link: `download` is always null here. ' +
      '`GET /v1/exports/{id}` issues the link (and revokes the previous one).',
    operationId: 'listCardExports',
  })
  @ApiOkResponse({ type: PageOf(CardExportDto) })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed: a filter is malformed or unknown' })
  list(@Ctx() ctx: RequestContext, @Query() query: ListExportsQueryDto): Promise<Page<CardExportDto>> {
    return this.exports.list(ctx, query);
  }

  @Get('exports/:id')
  @RequireScopes('cards:secrets')
  @ApiOperation({
    summary: 'Get an export: status, manifest and, while ready, a one-time download link',
    description:
      'While the export is `ready`, every call issues a new download link valid 15 minutes and revokes the ' +
      'previous one (only a hash of the token is kept, so a token is shown once). The link works for one ' +
      'complete download; the file is deleted after it, or 7 days after it was built if nobody downloads it.',
    operationId: 'getCardExport',
  })
  @ApiOkResponse({ type: CardExportDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<CardExportDto> {
    return this.exports.get(ctx, id);
  }

  @Get('exports/:id/download')
  @Public()
  @ApiOperation({
    summary: 'Download an export file (one-time token, no bearer token)',
    description:
      'Authorised by the one-time download token alone: programs send it in the `X-Download-Token` header (it ' +
      'then appears in no URL, so in no proxy or access log); the link form `?token=` is for browsers and is ' +
      'single-use like the header form. Streams the OpenPGP-encrypted CSV ' +
      '(`application/pgp-encrypted`). After one complete download the link answers 410 `export_link_used` and ' +
      'the file is deleted; an interrupted download may be retried with the same link until it expires (410 ' +
      '`export_link_expired`; GET the export for a new link). HEAD checks a link without using it.',
    operationId: 'downloadCardExport',
  })
  @ApiHeader({
    name: DOWNLOAD_TOKEN_HEADER,
    required: false,
    description: 'The one-time token from the `download` object of `GET /v1/exports/{id}` (instead of `?token=`)',
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
  })
  @ApiProduces(EXPORT_CONTENT_TYPE, 'application/problem+json')
  @ApiOkResponse({
    description: 'The encrypted file (binary OpenPGP message)',
    content: { [EXPORT_CONTENT_TYPE]: { schema: { type: 'string', format: 'binary' } } },
    headers: {
      'Content-Disposition': {
        description: 'attachment; filename="fuli-cards-<order id>.csv.pgp"',
        schema: { type: 'string' },
      },
    },
  })
  @ApiBadRequestResponse({
    type: Problem,
    description: 'validation_failed: the token is malformed; download_token_required: no token was sent',
  })
  @ApiNotFoundResponse({ type: Problem, description: 'No export with this link (unknown, or a revoked token)' })
  @ApiGoneResponse({ type: Problem, description: 'export_link_used, export_link_expired' })
  @ApiTooManyRequestsResponse({ type: Problem, description: 'Rate limit exceeded; see Retry-After' })
  async download(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Query() query: DownloadQueryDto,
    @Headers('x-download-token') header: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const head = request.method === 'HEAD';
    const file = await this.exports.openDownload(ctx, id, downloadTokenOf(header, query.token), !head);
    void reply
      .header('content-type', file.contentType)
      .header('content-length', String(file.sizeBytes))
      .header('content-disposition', `attachment; filename="${file.fileName}"`)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff');
    if (!file.stream) {
      // HEAD: an empty stream keeps the Content-Length set above (Fastify's HEAD route drops the body anyway).
      await reply.send(Readable.from([]));
      return;
    }
    // 'close' comes after 'finish' when every byte was handed over, alone when the client went away.
    reply.raw.once('close', () => void file.finish(reply.raw.writableFinished));
    await reply.send(file.stream);
  }
}
