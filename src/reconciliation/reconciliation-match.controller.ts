import { Controller, Get, Headers, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiProduces,
  ApiTags,
  ApiUnprocessableEntityResponse,
  ApiUnsupportedMediaTypeResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { PageOf, type Page } from '../common/pagination/pagination';
import { CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE } from '../common/uploads/tabular-file';
import { Idempotent } from '../idempotency/idempotent.decorator';
import {
  ListDifferencesQueryDto,
  ListReconciliationsQueryDto,
  ReconciliationDifferenceDto,
  ReconciliationDto,
  UploadReconciliationQueryDto,
  type DownloadFormat,
} from './dto/reconciliation-match.dto';
import { differencesCsv, differencesXlsx } from './reconciliation-match-download';
import { RECONCILIATION_COLUMNS } from './reconciliation-match-rows';
import { ReconciliationMatchService } from './reconciliation-match.service';

const DifferencePage = PageOf(ReconciliationDifferenceDto);

/** ?format= wins; else the Accept header (CSV or XLSX named in it); else JSON. */
function downloadFormat(query: ListDifferencesQueryDto, accept: string | undefined): DownloadFormat {
  if (query.format) return query.format;
  if (accept?.includes(XLSX_CONTENT_TYPE)) return 'xlsx';
  if (accept?.includes(CSV_CONTENT_TYPE)) return 'csv';
  return 'json';
}

@ApiTags('reconciliation')
@ApiExtraModels(DifferencePage)
@Controller('v1/reconciliations')
export class ReconciliationMatchController {
  constructor(private readonly reconciliations: ReconciliationMatchService) {}

  @Post()
  @RequireScopes('reconciliation:write')
  @Idempotent()
  @ApiOperation({
    summary: "Upload the ERP's records to match against Fuli's orders",
    description:
      `The body is a file (${CSV_CONTENT_TYPE}, UTF-8 with or without a BOM; or ${XLSX_CONTENT_TYPE}, the first ` +
      `worksheet, cells read as text, formulas never evaluated) whose first row names the columns, or JSON ` +
      '`{"records": [{…}, …]}` (at most BODY_LIMIT_BYTES). Columns: ' +
      `${RECONCILIATION_COLUMNS.join(', ')}; others are ignored. Each row names its order by order_id (a Fuli ` +
      'order id) or else po_number, states what was paid in amount_fen (whole fen) or amount_cny (yuan, at most ' +
      'two decimals), its date (YYYY-MM-DD), and optionally the invoice number. Up to 100,000 rows ' +
      '(RECONCILIATION_MAX_ROWS) and 20 MB (RECONCILIATION_FILE_MAX_BYTES). Any bad row: 422 invalid_rows listing ' +
      'row, field and code, and nothing is stored. A worker matches the rows; poll GET /v1/reconciliations/{id} ' +
      'or wait for reconciliation.completed.',
    operationId: 'uploadReconciliation',
  })
  @ApiConsumes(CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE, 'application/json')
  @ApiBody({
    schema: {
      oneOf: [
        { type: 'string', format: 'binary' },
        {
          type: 'object',
          required: ['records'],
          properties: {
            records: {
              type: 'array',
              items: {
                type: 'object',
                properties: Object.fromEntries(RECONCILIATION_COLUMNS.map((column) => [column, { type: 'string' }])),
              },
            },
          },
        },
      ],
    },
  })
  @ApiCreatedResponse({ type: ReconciliationDto })
  @ApiBadRequestResponse({
    type: Problem,
    description:
      'validation_failed: a query parameter is malformed or unknown; invalid_period: period_from without ' +
      'period_to (or the reverse), not days, or period_from after period_to',
  })
  @ApiPayloadTooLargeResponse({ type: Problem, description: 'file_too_large: over the row or byte limit' })
  @ApiUnsupportedMediaTypeResponse({ type: Problem, description: 'unsupported_media_type: not CSV, XLSX or JSON' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description:
      'invalid_rows (errors: row, field, code), missing_columns (columns), file_empty, file_unreadable. Row codes: ' +
      'order_reference_required, invalid_order_id, invalid_po_number, amount_required, invalid_amount, ' +
      'date_required, invalid_date, invalid_invoice_number',
  })
  upload(
    @Ctx() ctx: RequestContext,
    @Query() query: UploadReconciliationQueryDto,
    @Headers('content-type') contentType: string | undefined,
    @Req() request: FastifyRequest,
  ): Promise<ReconciliationDto> {
    return this.reconciliations.upload(ctx, { contentType, body: request.body, query });
  }

  @Get()
  @RequireScopes('reconciliation:read')
  @ApiOperation({ summary: 'List reconciliations, newest first', operationId: 'listReconciliations' })
  @ApiOkResponse({ type: PageOf(ReconciliationDto) })
  list(@Ctx() ctx: RequestContext, @Query() query: ListReconciliationsQueryDto): Promise<Page<ReconciliationDto>> {
    return this.reconciliations.list(ctx, query);
  }

  @Get(':id')
  @RequireScopes('reconciliation:read')
  @ApiOperation({ summary: 'A reconciliation: status, period and counts by kind', operationId: 'getReconciliation' })
  @ApiOkResponse({ type: ReconciliationDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<ReconciliationDto> {
    return this.reconciliations.get(ctx, id);
  }

  @Get(':id/differences')
  @RequireScopes('reconciliation:read')
  @ApiOperation({
    summary: "A reconciliation's differences, with both sides' values",
    description:
      'JSON: a page in position order (ERP rows by row number, then orders missing in the ERP). `format=csv` (UTF-8 ' +
      'with a BOM) or `format=xlsx`, or an Accept header naming one of them: every difference (of `kind`, when ' +
      'given) in one file, flattened (erp_*, fuli_* columns, amounts in fen). A text cell starting with = + - @ (or ' +
      'a tab or carriage return) is prefixed with an apostrophe.',
    operationId: 'listReconciliationDifferences',
  })
  @ApiProduces('application/json', CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE)
  @ApiOkResponse({
    description: 'A page of differences, or the CSV or XLSX file',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(DifferencePage) } },
      [CSV_CONTENT_TYPE]: { schema: { type: 'string' } },
      [XLSX_CONTENT_TYPE]: { schema: { type: 'string', format: 'binary' } },
    },
  })
  @ApiNotFoundResponse({ type: Problem })
  async differences(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Query() query: ListDifferencesQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const format = downloadFormat(query, accept);
    if (format === 'json') {
      await reply.send(await this.reconciliations.differences(ctx, id, query));
      return;
    }
    const pages = await this.reconciliations.allDifferences(ctx, id, query.kind);
    void reply
      .header('content-type', format === 'csv' ? `${CSV_CONTENT_TYPE}; charset=utf-8` : XLSX_CONTENT_TYPE)
      .header('content-disposition', `attachment; filename="${id}-differences.${format}"`)
      .header('cache-control', 'no-store');
    await reply.send(format === 'csv' ? differencesCsv(pages) : differencesXlsx(pages));
  }
}
