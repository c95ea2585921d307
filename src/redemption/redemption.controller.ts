import { Body, Controller, Headers, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import {
  BindCardDto,
  CardVerificationDto,
  DebitDto,
  PaymentCodeDto,
  PaymentCodeRequestDto,
  RedemptionDto,
  ReverseDto,
  VerifyCardDto,
} from './dto/redemption.dto';
import { RedemptionService } from './redemption.service';

const GONE = 'card_voided, card_expired, card_lost, card_replaced, card_refunded (each with the serial and status)';
const RISK_BLOCKED = 'risk_blocked: a fraud rule whose action is block refused it (the rule is named)';
const END_USER_IP = {
  name: 'X-End-User-IP',
  required: false,
  description:
    "The end user's IP address as the channel saw it (end_user.ip in the body wins): failed attempts are also counted per end user; on binds and debits it is recorded on the card's movement and counted by the IP fraud rules",
};
const GUESSING =
  'too_many_failed_attempts (Retry-After): too many failed attempts of this holder account or end user. A channel past its own limit is slowed down, not refused';

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
      "A code with a wrong length, character or check character is refused (400 invalid_card_code) before any lookup. An unknown code counts as a failed attempt against the client, the IP and the end user; past the end user's limit, 429 too_many_failed_attempts for the cool-down. A card bound by another channel is 404 card_not_found.",
    operationId: 'verifyCard',
  })
  @ApiHeader(END_USER_IP)
  @ApiOkResponse({ type: CardVerificationDto })
  @ApiBadRequestResponse({ type: Problem, description: 'invalid_card_code, validation_failed' })
  @ApiNotFoundResponse({ type: Problem, description: 'card_not_found: the card was bound by another channel' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: `invalid_card_credentials, ${GONE}` })
  @ApiTooManyRequestsResponse({ type: Problem, description: GUESSING })
  verify(
    @Ctx() ctx: RequestContext,
    @Body() dto: VerifyCardDto,
    @Headers('x-end-user-ip') endUserIp?: string,
  ): Promise<CardVerificationDto> {
    return this.redemptions.verify(ctx, dto, endUserIp);
  }

  @Post('bind')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Bind a card to a holder account with its code and PIN',
    description:
      "The first bind wins, and the card then belongs to this channel; a bind by another holder or channel is 409 card_already_bound, the same holder's again is answered with the card. Registered (记名) cards need holder_identity matching the real-name data. An unknown code and a wrong PIN get the same 422 invalid_card_credentials, and count as failed attempts per client, holder account, IP and end user; wrong PINs also count per card, which is frozen (card.frozen, reason pin_attempts) at the limit. Idempotent by reference.",
    operationId: 'bindCard',
  })
  @ApiHeader(END_USER_IP)
  @ApiOkResponse({ type: RedemptionDto })
  @ApiBadRequestResponse({ type: Problem, description: 'invalid_card_code, validation_failed' })
  @ApiForbiddenResponse({ type: Problem, description: RISK_BLOCKED })
  @ApiConflictResponse({ type: Problem, description: 'card_already_bound, card_frozen' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: `invalid_card_credentials, holder_identity_required, holder_identity_mismatch, reference_reused, ${GONE}`,
  })
  @ApiTooManyRequestsResponse({ type: Problem, description: GUESSING })
  bind(
    @Ctx() ctx: RequestContext,
    @Body() dto: BindCardDto,
    @Headers('x-end-user-ip') endUserIp?: string,
  ): Promise<RedemptionDto> {
    return this.redemptions.bind(ctx, dto, endUserIp);
  }

  @Post('payment-codes')
  @HttpCode(200)
  @ApiOperation({
    summary: "A dynamic payment code for a bound card, or for a holder's wallet",
    description:
      "An 18-digit single-use code (付款码) and its QR payload, for the holder to show at a POS, which debits with payment_code instead of serial and holder_ref. Made for a window of PAYMENT_CODE_WINDOW_SECONDS (60 s) and accepted in the next one too (skew), until spent; asked again in the same window, the same code. With serial, the card this channel bound to holder_ref; without, the holder's wallet (its active cards, soonest expiry first).",
    operationId: 'createPaymentCode',
  })
  @ApiOkResponse({ type: PaymentCodeDto })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed' })
  @ApiNotFoundResponse({ type: Problem, description: 'card_not_found: no card with this serial bound by this channel' })
  @ApiConflictResponse({ type: Problem, description: 'card_frozen' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: `card_holder_mismatch, holder_has_no_cards, ${GONE}` })
  paymentCode(@Ctx() ctx: RequestContext, @Body() dto: PaymentCodeRequestDto): Promise<PaymentCodeDto> {
    return this.redemptions.paymentCode(ctx, dto);
  }

  @Post('debit')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Spend from a card, or from all active cards of a holder account',
    description:
      "Partial spends; never below zero. Only cards this channel bound: with serial, the card bound to holder_ref; with holder_ref only, the holder's active cards, soonest expiry first; with payment_code (from POST /v1/redemptions/payment-codes, scanned at the POS), its card or wallet, the code spent with the debit. Idempotent by reference.",
    operationId: 'debitCard',
  })
  @ApiHeader(END_USER_IP)
  @ApiOkResponse({ type: RedemptionDto })
  @ApiForbiddenResponse({ type: Problem, description: RISK_BLOCKED })
  @ApiNotFoundResponse({
    type: Problem,
    description:
      'card_not_found: no card with this serial bound by this channel (also one unbound, or bound by another)',
  })
  @ApiConflictResponse({ type: Problem, description: 'card_frozen, payment_code_used' })
  @ApiUnprocessableEntityResponse({
    type: Problem,
    description: `insufficient_balance, card_holder_mismatch, holder_has_no_cards, reference_reused, payment_code_expired, payment_code_invalid, ${GONE}`,
  })
  debit(
    @Ctx() ctx: RequestContext,
    @Body() dto: DebitDto,
    @Headers('x-end-user-ip') endUserIp?: string,
  ): Promise<RedemptionDto> {
    return this.redemptions.debit(ctx, dto, endUserIp);
  }

  @Post(':id/reverse')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Give (part of) a debit back to its cards',
    description: 'At most what is left of the debit; only the client that made the debit. Idempotent by reference.',
    operationId: 'reverseDebit',
  })
  @ApiOkResponse({ type: RedemptionDto })
  @ApiNotFoundResponse({
    type: Problem,
    description:
      'resource_not_found: no debit with this id made by this client; card_not_found for a card of it that this ' +
      'channel did not bind',
  })
  @ApiConflictResponse({ type: Problem, description: 'card_not_reversible: a card of the debit is no longer live' })
  @ApiUnprocessableEntityResponse({ type: Problem, description: 'reversal_exceeds_debit, reference_reused' })
  reverse(@Ctx() ctx: RequestContext, @Param('id') id: string, @Body() dto: ReverseDto): Promise<RedemptionDto> {
    return this.redemptions.reverse(ctx, id, dto);
  }
}
