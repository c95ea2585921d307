import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../auth/auth.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import {
  BindCardDto,
  CardVerificationDto,
  DebitDto,
  RedemptionDto,
  ReverseDto,
  VerifyCardDto,
} from './dto/redemption.dto';
import { RedemptionService } from './redemption.service';

const GONE = 'card_voided, card_expired, card_lost, card_replaced, card_refunded (each with the serial and status)';

/** The redemption channel's API (platform-side clients with `redemptions:write`). */
@ApiTags('redemptions')
@RequireScopes('redemptions:write')
@Controller('v1/redemptions')
export class RedemptionController {
  constructor(private readonly redemptions: RedemptionService) {}

  @Post('verify')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Look a card up by its code: serial, type, status, balance and expiry',
    description:
      'A code with a wrong length, character or check character is refused (400 invalid_card_code) before any lookup. An unknown code counts as a failed attempt against the client and the IP; past the limit, 429 too_many_failed_attempts for the cool-down.',
    operationId: 'verifyCard',
  })
  @ApiOkResponse({ type: CardVerificationDto })
  @ApiBadRequestResponse({ type: Problem, description: 'invalid_card_code, validation_failed' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: `invalid_card_credentials, ${GONE}` })
  @ApiTooManyRequestsResponse({ type: Problem, description: 'too_many_failed_attempts (Retry-After)' })
  verify(@Ctx() ctx: RequestContext, @Body() dto: VerifyCardDto): Promise<CardVerificationDto> {
    return this.redemptions.verify(ctx, dto);
  }

  @Post('bind')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Bind a card to a holder account with its code and PIN',
    description:
      "The first bind wins; a bind by another holder is 409 card_already_bound, the same holder's again is answered with the card. Registered (记名) cards need holder_identity matching the real-name data. An unknown code and a wrong PIN get the same 422 invalid_card_credentials, and count as failed attempts per client, holder account and IP. Idempotent by reference.",
    operationId: 'bindCard',
  })
  @ApiOkResponse({ type: RedemptionDto })
  @ApiBadRequestResponse({ type: Problem, description: 'invalid_card_code, validation_failed' })
  @ApiConflictResponse({ type: Problem, description: 'card_already_bound, card_frozen' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: `invalid_card_credentials, holder_identity_required, holder_identity_mismatch, reference_reused, ${GONE}`,
  })
  @ApiTooManyRequestsResponse({ type: Problem, description: 'too_many_failed_attempts (Retry-After)' })
  bind(@Ctx() ctx: RequestContext, @Body() dto: BindCardDto): Promise<RedemptionDto> {
    return this.redemptions.bind(ctx, dto);
  }

  @Post('debit')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Spend from a card, or from all active cards of a holder account',
    description:
      "Partial spends; never below zero. With holder_ref only, the holder's active cards are spent soonest expiry first. Idempotent by reference.",
    operationId: 'debitCard',
  })
  @ApiOkResponse({ type: RedemptionDto })
  @ApiNotFoundResponse({ type: Problem, description: 'No card with this serial' })
  @ApiConflictResponse({ type: Problem, description: 'card_frozen' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: `insufficient_balance, card_not_bound, card_holder_mismatch, holder_has_no_cards, reference_reused, ${GONE}`,
  })
  debit(@Ctx() ctx: RequestContext, @Body() dto: DebitDto): Promise<RedemptionDto> {
    return this.redemptions.debit(ctx, dto);
  }

  @Post(':id/reverse')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Give (part of) a debit back to its cards',
    description: 'At most what is left of the debit; only the client that made the debit. Idempotent by reference.',
    operationId: 'reverseDebit',
  })
  @ApiOkResponse({ type: RedemptionDto })
  @ApiNotFoundResponse({ type: Problem, description: 'No debit with this id made by this client' })
  @ApiConflictResponse({ type: Problem, description: 'card_not_reversible: a card of the debit is no longer live' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'reversal_exceeds_debit, reference_reused' })
  reverse(@Ctx() ctx: RequestContext, @Param('id') id: string, @Body() dto: ReverseDto): Promise<RedemptionDto> {
    return this.redemptions.reverse(ctx, id, dto);
  }
}
