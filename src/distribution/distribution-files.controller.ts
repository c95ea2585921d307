import type { Readable } from 'node:stream';
import { Controller, Get, Headers, Param, Post, Query, Req } from '@nestjs/common';
import {
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE } from '../common/uploads/tabular-file';
import { DistributionFilesService } from './distribution-files.service';
import { DistributionFileDto, UploadFileQueryDto } from './dto/distribution-file.dto';
import { RECIPIENT_FIELDS } from './recipient-rows';

@ApiTags('distributions')
@Controller('v1/distribution-files')
export class DistributionFilesController {
  constructor(private readonly files: DistributionFilesService) {}

  @Post()
  @RequireScopes('distributions:write')
  @ApiOperation({
    summary: 'Upload a recipient list (CSV or XLSX) to distribute from',
    description:
      `The body is the file itself, with its content type (${CSV_CONTENT_TYPE}, UTF-8 with or without a BOM; or ` +
      `${XLSX_CONTENT_TYPE}, the first worksheet). The first row names the columns, as the inline recipients ` +
      `name their fields: ${RECIPIENT_FIELDS.filter((field) => field !== 'real_name').join(', ')}, and ` +
      'real_name.name, real_name.id_type, real_name.id_number, real_name.mobile. Cells are read as text (a formula ' +
      'as its formula, never evaluated). Every row is checked as the inline recipients are; a file with any error ' +
      'is kept only to show its errors and cannot be distributed. Up to 100,000 rows and 20 MB ' +
      '(DISTRIBUTION_FILE_MAX_ROWS, DISTRIBUTION_FILE_MAX_BYTES); a file is usable until expires_at, once.',
    operationId: 'uploadDistributionFile',
  })
  @ApiConsumes(CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE)
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiCreatedResponse({ type: DistributionFileDto })
  @ApiPayloadTooLargeResponse({ type: Problem, description: 'file_too_large: over the row or byte limit' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: 'file_empty: no data rows; file_unreadable: not a CSV or XLSX file',
  })
  upload(
    @Ctx() ctx: RequestContext,
    @Query() query: UploadFileQueryDto,
    @Headers('content-type') contentType: string,
    @Req() request: FastifyRequest,
  ): Promise<DistributionFileDto> {
    return this.files.upload(ctx, { filename: query.filename, contentType, body: request.body as Readable });
  }

  @Get(':id')
  @RequireScopes('distributions:read')
  @ApiOperation({ summary: 'An uploaded recipient file: rows, errors, expiry', operationId: 'getDistributionFile' })
  @ApiOkResponse({ type: DistributionFileDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<DistributionFileDto> {
    return this.files.get(ctx, id);
  }
}
