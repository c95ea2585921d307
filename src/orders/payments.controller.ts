import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
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
import { AdminListPaymentsQueryDto, ListPaymentsQueryDto, PaymentDto, RecordPaymentDto } from './dto/payment.dto';
import { PaymentsService } from './payments.service';

@ApiTags('admin')
@RequireScopes('admin')
@Controller('v1/admin/payments')
export class AdminPaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Post()
  @Idempotent()
  @ApiOperation({
    summary: 'Record a bank transfer received from an enterprise',
    description:
      'deposit: to the prepaid balance; order_transfer: for one bank_transfer order, which becomes paid once its transfers cover it (any excess goes to the prepaid balance); credit_repayment: reduces credit used (any excess goes to the prepaid balance).',
    operationId: 'recordPayment',
  })
  @ApiCreatedResponse({ type: PaymentDto })
  @ApiConflictResponse({
    type: Problem,
    description: 'payment_already_recorded (with existing_payment_id), invalid_state',
  })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'corporate_payer_required, payment_method_mismatch' })
  record(@Ctx() ctx: RequestContext, @Body() dto: RecordPaymentDto): Promise<PaymentDto> {
    return this.payments.record(ctx, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List recorded payments', operationId: 'listAllPayments' })
  @ApiOkResponse({ type: PageOf(PaymentDto) })
  list(@Ctx() ctx: RequestContext, @Query() query: AdminListPaymentsQueryDto): Promise<Page<PaymentDto>> {
    return this.payments.list(ctx, query);
  }

  @Get(':id')
  @ApiOperation({ summary: "Get any enterprise's recorded payment", operationId: 'getAnyPayment' })
  @ApiOkResponse({ type: PaymentDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<PaymentDto> {
    return this.payments.get(ctx, id);
  }
}

@ApiTags('orders')
@Controller('v1/payments')
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Get()
  @RequireScopes('orders:read')
  @ApiOperation({ summary: "List the enterprise's bank transfers as booked", operationId: 'listPayments' })
  @ApiOkResponse({ type: PageOf(PaymentDto) })
  list(@Ctx() ctx: RequestContext, @Query() query: ListPaymentsQueryDto): Promise<Page<PaymentDto>> {
    return this.payments.list(ctx, query);
  }

  @Get(':id')
  @RequireScopes('orders:read')
  @ApiOperation({ summary: "Get one of the enterprise's payments as booked", operationId: 'getPayment' })
  @ApiOkResponse({ type: PaymentDto })
  @ApiNotFoundResponse({ type: Problem, description: 'No such payment in your enterprise' })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<PaymentDto> {
    return this.payments.get(ctx, id);
  }
}
