import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { PageOf, type Page } from '../common/pagination/pagination';
import { Idempotent } from '../idempotency/idempotent.decorator';
import {
  AdminListInvoicesQueryDto,
  CreateInvoiceDto,
  InvoiceDto,
  ListInvoicesQueryDto,
  VoidInvoiceDto,
} from './dto/invoice.dto';
import { InvoiceProfileDto, UpdateInvoiceProfileDto } from './dto/invoice-profile.dto';
import { InvoicingService, type InvoiceDocumentFile } from './invoicing.service';

const NOT_RENDERED = 'invoice_not_rendered: the worker has not rendered the documents yet; retry shortly';

/** Sends a stored document with its digest. */
async function sendDocument(reply: FastifyReply, file: InvoiceDocumentFile, contentType: string): Promise<void> {
  await reply
    .header('content-type', contentType)
    .header('content-length', String(file.sizeBytes))
    .header('content-disposition', `attachment; filename="${file.fileName}"`)
    .header('x-content-sha256', file.sha256)
    .header('cache-control', 'private, max-age=0')
    .send(file.stream);
}

@ApiTags('invoices')
@Controller('v1')
export class InvoicingController {
  constructor(private readonly invoicing: InvoicingService) {}

  @Get('invoice-profile')
  @RequireScopes('invoices:read')
  @ApiOperation({
    summary: "Get the enterprise's invoice profile (抬头, taxpayer id, delivery, mode)",
    operationId: 'getInvoiceProfile',
  })
  @ApiOkResponse({ type: InvoiceProfileDto })
  @ApiNotFoundResponse({ type: Problem, description: 'No profile set yet' })
  getProfile(@Ctx() ctx: RequestContext): Promise<InvoiceProfileDto> {
    return this.invoicing.getProfile(ctx);
  }

  @Put('invoice-profile')
  @RequireScopes('invoices:write')
  @ApiOperation({
    summary: 'Set the invoice profile',
    description:
      'The buyer details printed on every later invoice (issued invoices never change), the addresses each PDF is ' +
      'e-mailed to, and the mode: `per_order`, `monthly` or `on_request`.',
    operationId: 'putInvoiceProfile',
  })
  @ApiOkResponse({ type: InvoiceProfileDto })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: 'invalid_taxpayer_id (check character), special_invoice_not_allowed',
  })
  putProfile(@Ctx() ctx: RequestContext, @Body() dto: UpdateInvoiceProfileDto): Promise<InvoiceProfileDto> {
    return this.invoicing.putProfile(ctx, dto);
  }

  @Post('invoices')
  @RequireScopes('invoices:write')
  @Idempotent()
  @ApiOperation({
    summary: 'Invoice paid orders (on request)',
    description:
      'One ordinary invoice (不征税, 预付卡销售和充值) for the listed paid orders, for what was paid after discount. ' +
      'Its PDF and XML are rendered by a worker: poll `documents.status`.',
    operationId: 'createInvoice',
  })
  @ApiCreatedResponse({ type: InvoiceDto })
  @ApiNotFoundResponse({ type: Problem, description: 'An order is not yours or does not exist' })
  @ApiConflictResponse({ type: Problem, description: 'already_invoiced (with order_ids and invoice_ids)' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: 'order_not_paid (with order_ids), special_invoice_not_allowed, invoice_profile_required',
  })
  create(@Ctx() ctx: RequestContext, @Body() dto: CreateInvoiceDto): Promise<InvoiceDto> {
    return this.invoicing.create(ctx, dto);
  }

  @Get('invoices')
  @RequireScopes('invoices:read')
  @ApiOperation({ summary: 'List invoices and red-letter invoices, newest first', operationId: 'listInvoices' })
  @ApiOkResponse({ type: PageOf(InvoiceDto) })
  list(@Ctx() ctx: RequestContext, @Query() query: ListInvoicesQueryDto): Promise<Page<InvoiceDto>> {
    return this.invoicing.list(ctx, query);
  }

  @Get('invoices/:id')
  @RequireScopes('invoices:read')
  @ApiOperation({
    summary: 'Get an invoice: its lines, red-letter invoices crediting it and the net amount',
    operationId: 'getInvoice',
  })
  @ApiOkResponse({ type: InvoiceDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<InvoiceDto> {
    return this.invoicing.get(ctx, id);
  }

  @Get('invoices/:id/pdf')
  @RequireScopes('invoices:read')
  @ApiOperation({ summary: 'Download the PDF of an invoice', operationId: 'getInvoicePdf' })
  @ApiProduces('application/pdf', 'application/problem+json')
  @ApiOkResponse({
    description: 'The PDF; X-Content-SHA256 is the digest the invoice records',
    content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: NOT_RENDERED })
  async pdf(@Ctx() ctx: RequestContext, @Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    await sendDocument(reply, await this.invoicing.document(ctx, id, 'pdf'), 'application/pdf');
  }

  @Get('invoices/:id/xml')
  @RequireScopes('invoices:read')
  @ApiOperation({
    summary: 'Download the XML of an invoice (the same fields as the PDF)',
    operationId: 'getInvoiceXml',
  })
  @ApiProduces('application/xml', 'application/problem+json')
  @ApiOkResponse({
    description: 'The XML; X-Content-SHA256 is the digest the invoice records',
    content: { 'application/xml': { schema: { type: 'string' } } },
  })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: NOT_RENDERED })
  async xml(@Ctx() ctx: RequestContext, @Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    await sendDocument(reply, await this.invoicing.document(ctx, id, 'xml'), 'application/xml; charset=utf-8');
  }
}

/** The operator: invoices of every enterprise, re-rendering, and voiding an invoice issued in error. */
@ApiTags('admin')
@RequireScopes('admin')
@Controller('v1/admin/invoices')
export class AdminInvoicingController {
  constructor(private readonly invoicing: InvoicingService) {}

  @Get()
  @ApiOperation({ summary: 'List invoices across enterprises, newest first', operationId: 'adminListInvoices' })
  @ApiOkResponse({ type: PageOf(InvoiceDto) })
  list(@Ctx() ctx: RequestContext, @Query() query: AdminListInvoicesQueryDto): Promise<Page<InvoiceDto>> {
    return this.invoicing.adminList(ctx, query);
  }

  @Post(':id/render')
  @HttpCode(202)
  @ApiOperation({
    summary: "Render an invoice's documents again (the invoice's fields stay as issued)",
    operationId: 'adminRerenderInvoice',
  })
  @ApiAcceptedResponse({ type: InvoiceDto, description: 'Accepted: a worker renders the documents again' })
  @ApiNotFoundResponse({ type: Problem })
  rerender(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<InvoiceDto> {
    return this.invoicing.rerender(ctx, id);
  }

  @Post(':id/void')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({
    summary: 'Void an invoice issued in error: a red-letter invoice credits what is left of it (audited)',
    description: 'Its orders may then be invoiced again. The original invoice is never changed.',
    operationId: 'adminVoidInvoice',
  })
  @ApiOkResponse({ type: InvoiceDto })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'invalid_state (a red-letter invoice), invoice_already_credited' })
  voidInvoice(@Ctx() ctx: RequestContext, @Param('id') id: string, @Body() dto: VoidInvoiceDto): Promise<InvoiceDto> {
    return this.invoicing.voidInError(ctx, id, dto.reason);
  }
}
