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
import { CreateOrderDto } from './dto/create-order.dto';
import { ListOrdersQueryDto, OrderDto, ReasonDto } from './dto/order.dto';
import { OrdersService } from './orders.service';

@ApiTags('orders')
@Controller('v1/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @RequireScopes('orders:write')
  @Idempotent({ storedByHandler: true })
  @ApiOperation({
    summary: 'Place a bulk order',
    description:
      'Prices the lines with the enterprise discount (discount = round half up of face total × discount_bps / 10000, on the whole order), applies the prepaid-card rules, and waits for approval when the payable amount is above the enterprise approval threshold.',
    operationId: 'createOrder',
  })
  @ApiCreatedResponse({ type: OrderDto })
  @ApiConflictResponse({ type: Problem, description: 'po_number_exists (with existing_order_id), or a key in flight' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description:
      'product_not_found, face_value_not_offered, design_not_offered, greeting_not_allowed, card_limit_exceeded, real_name_required, bank_transfer_required, idempotency_key_reused',
  })
  create(@Ctx() ctx: RequestContext, @Body() dto: CreateOrderDto): Promise<OrderDto> {
    return this.orders.create(ctx, dto);
  }

  @Get()
  @RequireScopes('orders:read')
  @ApiOperation({ summary: 'List orders, newest first', operationId: 'listOrders' })
  @ApiOkResponse({ type: PageOf(OrderDto) })
  list(@Ctx() ctx: RequestContext, @Query() query: ListOrdersQueryDto): Promise<Page<OrderDto>> {
    return this.orders.list(ctx, query);
  }

  @Get(':id')
  @RequireScopes('orders:read')
  @ApiOperation({ summary: 'Get an order', operationId: 'getOrder' })
  @ApiOkResponse({ type: OrderDto })
  @ApiNotFoundResponse({ type: Problem })
  get(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<OrderDto> {
    return this.orders.get(ctx, id);
  }

  @Post(':id/approve')
  @HttpCode(200)
  @RequireScopes('orders:approve')
  @Idempotent()
  @ApiOperation({
    summary: 'Approve an order waiting for approval (not by the client that placed it)',
    description:
      'A bank_transfer order whose transfers already cover it is paid at once. Accepts an Idempotency-Key, as every POST that moves money.',
    operationId: 'approveOrder',
  })
  @ApiOkResponse({ type: OrderDto })
  @ApiForbiddenResponse({
    type: Problem,
    description: 'self_approval_not_allowed: the client that placed the order cannot approve it',
  })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'invalid_state' })
  approve(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<OrderDto> {
    return this.orders.approve(ctx, id);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @RequireScopes('orders:approve')
  @Idempotent()
  @ApiOperation({
    summary: 'Reject an order waiting for approval',
    description:
      'Bank transfers already received for the order move to the prepaid balance. Accepts an Idempotency-Key, as every POST that moves money.',
    operationId: 'rejectOrder',
  })
  @ApiOkResponse({ type: OrderDto })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'invalid_state' })
  reject(@Ctx() ctx: RequestContext, @Param('id') id: string, @Body() dto: ReasonDto): Promise<OrderDto> {
    return this.orders.reject(ctx, id, dto);
  }

  @Post(':id/pay')
  @HttpCode(200)
  @RequireScopes('orders:approve')
  @Idempotent()
  @ApiOperation({
    summary: 'Pay an order from the prepaid balance or the credit line',
    operationId: 'payOrder',
  })
  @ApiOkResponse({ type: OrderDto })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'invalid_state, awaiting_bank_transfer' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'insufficient_prepaid_balance, credit_limit_exceeded' })
  pay(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<OrderDto> {
    return this.orders.pay(ctx, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @RequireScopes('orders:write')
  @Idempotent()
  @ApiOperation({
    summary: 'Cancel an order before issuance starts; a paid order is refunded to its funding source',
    description:
      'Transfers received for an unpaid bank_transfer order move to the prepaid balance. Accepts an Idempotency-Key: a retry with the same key replays the first answer and refunds nothing twice.',
    operationId: 'cancelOrder',
  })
  @ApiOkResponse({ type: OrderDto })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'invalid_state' })
  @ApiForbiddenResponse({ type: Problem })
  cancel(@Ctx() ctx: RequestContext, @Param('id') id: string, @Body() dto: ReasonDto): Promise<OrderDto> {
    return this.orders.cancel(ctx, id, dto);
  }
}
