import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
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
import { CardDto } from './dto/card.dto';
import { CardTransactionPageDto, ListCardTransactionsQueryDto } from './dto/card-transaction.dto';
import { CardLifecycleService } from './card-lifecycle.service';
import { CardActionDto, ExpiryRunDto, ReplacementDto, VoidCardsDto, VoidResultDto } from './dto/card-lifecycle.dto';

const STATE = 'invalid_card_state, card_frozen (each with the serial and status)';
const GONE = 'card_voided, card_expired, card_lost, card_replaced, card_refunded';
const NOT_FOUND = "card_not_found, also for another tenant's card";

/** An enterprise's own cards (cards:write); another tenant's serial is a 404. */
@ApiTags('cards')
@Controller('v1/cards')
export class CardsLifecycleController {
  constructor(private readonly lifecycle: CardLifecycleService) {}

  @Get(':serial/transactions')
  @RequireScopes()
  @ApiOperation({
    summary: "A card's movements and changes, oldest first",
    description:
      "Enterprise clients with cards:read see their own cards'; a redemption channel the cards it bound; the operator any.",
    operationId: 'listCardTransactions',
  })
  @ApiOkResponse({ type: CardTransactionPageDto })
  @ApiNotFoundResponse({
    type: Problem,
    description: "card_not_found, also for another tenant's card or a card another channel bound",
  })
  transactions(
    @Ctx() ctx: RequestContext,
    @Param('serial') serial: string,
    @Query() query: ListCardTransactionsQueryDto,
  ): Promise<CardTransactionPageDto> {
    return this.lifecycle.transactionsOf(ctx, serial, query);
  }

  @Post(':serial/freeze')
  @HttpCode(200)
  @RequireScopes('cards:write')
  @ApiOperation({ summary: 'Freeze a card: no bind or spend until it is unfrozen', operationId: 'freezeCard' })
  @ApiOkResponse({ type: CardDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: STATE })
  @ApiUnprocessableEntityResponse({ type: Problem, description: GONE })
  freeze(@Ctx() ctx: RequestContext, @Param('serial') serial: string, @Body() dto: CardActionDto): Promise<CardDto> {
    return this.lifecycle.freeze(ctx, serial, dto.reason);
  }

  @Post(':serial/unfreeze')
  @HttpCode(200)
  @RequireScopes('cards:write')
  @ApiOperation({ summary: 'Unfreeze a card: back to the status it was frozen in', operationId: 'unfreezeCard' })
  @ApiOkResponse({ type: CardDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: STATE })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'card_expired' })
  unfreeze(@Ctx() ctx: RequestContext, @Param('serial') serial: string, @Body() dto: CardActionDto): Promise<CardDto> {
    return this.lifecycle.unfreeze(ctx, serial, dto.reason);
  }

  @Post(':serial/report-loss')
  @HttpCode(200)
  @RequireScopes('cards:write')
  @Idempotent()
  @ApiOperation({
    summary: 'Report a registered card lost (挂失): a replacement for the same holder carries its balance',
    operationId: 'reportCardLost',
  })
  @ApiOkResponse({ type: ReplacementDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: STATE })
  @ApiUnprocessableEntityResponse({ type: Problem, description: `anonymous_card_not_reportable, ${GONE}` })
  reportLoss(
    @Ctx() ctx: RequestContext,
    @Param('serial') serial: string,
    @Body() dto: CardActionDto,
  ): Promise<ReplacementDto> {
    return this.lifecycle.reportLoss(ctx, serial, dto.reason);
  }

  @Post(':serial/refund')
  @HttpCode(200)
  @RequireScopes('cards:write')
  @Idempotent()
  @ApiOperation({
    summary: "Refund a registered card's remaining balance to its holder (赎回)",
    operationId: 'refundCard',
  })
  @ApiOkResponse({ type: CardDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: STATE })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: `anonymous_card_not_refundable, card_has_no_value, ${GONE}`,
  })
  refund(@Ctx() ctx: RequestContext, @Param('serial') serial: string, @Body() dto: CardActionDto): Promise<CardDto> {
    return this.lifecycle.refund(ctx, serial, dto.reason);
  }

  @Post('void')
  @HttpCode(200)
  @RequireScopes('cards:write')
  @Idempotent()
  @ApiOperation({
    summary: 'Void unused cards; what they cost returns to where the order was paid from',
    description:
      'All or none: every card must be unused (never bound, full balance) and not expired. The enterprise gets back face value less its order discount, as a cancelled paid order would: to the credit line first when the order drew on it and that credit is still used, the rest to the prepaid balance; the discount part goes back to sales_discount. The reason is kept in the audit trail.',
    operationId: 'voidCards',
  })
  @ApiOkResponse({ type: VoidResultDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: `card_not_unused, ${STATE}` })
  @ApiUnprocessableEntityResponse({ type: Problem, description: GONE })
  voidCards(@Ctx() ctx: RequestContext, @Body() dto: VoidCardsDto): Promise<VoidResultDto> {
    return this.lifecycle.voidCards(ctx, dto.serials, dto.reason);
  }
}

/** The operator's lifecycle actions on any card, and the expired-card rules that are the operator's alone. */
@ApiTags('admin')
@RequireScopes('admin')
@Controller('v1/admin/cards')
export class AdminCardsController {
  constructor(private readonly lifecycle: CardLifecycleService) {}

  @Post(':serial/freeze')
  @HttpCode(200)
  @ApiOperation({ summary: 'Freeze any card', operationId: 'adminFreezeCard' })
  @ApiOkResponse({ type: CardDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: STATE })
  freeze(@Ctx() ctx: RequestContext, @Param('serial') serial: string, @Body() dto: CardActionDto): Promise<CardDto> {
    return this.lifecycle.freeze(ctx, serial, dto.reason);
  }

  @Post(':serial/unfreeze')
  @HttpCode(200)
  @ApiOperation({ summary: 'Unfreeze any card', operationId: 'adminUnfreezeCard' })
  @ApiOkResponse({ type: CardDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: STATE })
  unfreeze(@Ctx() ctx: RequestContext, @Param('serial') serial: string, @Body() dto: CardActionDto): Promise<CardDto> {
    return this.lifecycle.unfreeze(ctx, serial, dto.reason);
  }

  @Post(':serial/report-loss')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({ summary: 'Report any registered card lost (挂失)', operationId: 'adminReportCardLost' })
  @ApiOkResponse({ type: ReplacementDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: STATE })
  @ApiUnprocessableEntityResponse({ type: Problem, description: `anonymous_card_not_reportable, ${GONE}` })
  reportLoss(
    @Ctx() ctx: RequestContext,
    @Param('serial') serial: string,
    @Body() dto: CardActionDto,
  ): Promise<ReplacementDto> {
    return this.lifecycle.reportLoss(ctx, serial, dto.reason);
  }

  @Post(':serial/refund')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({ summary: "Refund any registered card's balance (赎回)", operationId: 'adminRefundCard' })
  @ApiOkResponse({ type: CardDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: STATE })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: `anonymous_card_not_refundable, card_has_no_value, ${GONE}`,
  })
  refund(@Ctx() ctx: RequestContext, @Param('serial') serial: string, @Body() dto: CardActionDto): Promise<CardDto> {
    return this.lifecycle.refund(ctx, serial, dto.reason);
  }

  @Post('void')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({
    summary: 'Void unused cards of any enterprise; what they cost returns to where each order was paid from',
    operationId: 'adminVoidCards',
  })
  @ApiOkResponse({ type: VoidResultDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: `card_not_unused, ${STATE}` })
  @ApiUnprocessableEntityResponse({ type: Problem, description: GONE })
  voidCards(@Ctx() ctx: RequestContext, @Body() dto: VoidCardsDto): Promise<VoidResultDto> {
    return this.lifecycle.voidCards(ctx, dto.serials, dto.reason);
  }

  @Post(':serial/reactivate')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({
    summary: 'Re-activate an expired anonymous card that held value (激活)',
    description: 'The value booked as breakage returns to the card, valid again for the anonymous minimum validity.',
    operationId: 'reactivateCard',
  })
  @ApiOkResponse({ type: CardDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: 'invalid_card_state: the card has not expired' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: 'registered_card_not_reactivatable, card_has_no_value',
  })
  reactivate(
    @Ctx() ctx: RequestContext,
    @Param('serial') serial: string,
    @Body() dto: CardActionDto,
  ): Promise<CardDto> {
    return this.lifecycle.reactivate(ctx, serial, dto.reason);
  }

  @Post(':serial/replace')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({
    summary: 'Replace an expired anonymous card that held value with a new card carrying it (换卡)',
    operationId: 'replaceExpiredCard',
  })
  @ApiOkResponse({ type: ReplacementDto })
  @ApiNotFoundResponse({ type: Problem, description: NOT_FOUND })
  @ApiConflictResponse({ type: Problem, description: 'invalid_card_state: the card has not expired' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: 'registered_card_not_reactivatable, card_has_no_value',
  })
  replace(
    @Ctx() ctx: RequestContext,
    @Param('serial') serial: string,
    @Body() dto: CardActionDto,
  ): Promise<ReplacementDto> {
    return this.lifecycle.replaceExpired(ctx, serial, dto.reason);
  }

  @Post('expire-due')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Run the expiry job now: expire cards past expires_at and book breakage',
    operationId: 'expireDueCards',
  })
  @ApiOkResponse({ type: ExpiryRunDto })
  expireDue(@Ctx() ctx: RequestContext): Promise<ExpiryRunDto> {
    return this.lifecycle.expireDue(ctx);
  }
}
