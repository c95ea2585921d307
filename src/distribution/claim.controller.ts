import { randomBytes } from 'node:crypto';
import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiExcludeController,
  ApiGoneResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Ctx, Public, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { claimPageCsp } from '../common/http/security-headers';
import { claimAsset } from './claim-assets';
import { pickLocale, renderClaimError, renderClaimPage } from './claim-page';
import { ClaimPaymentCodes, type ClaimPaymentCode } from './claim-payment-codes.service';
import {
  ClaimsService,
  type ClaimBindTicket,
  type ClaimBound,
  type ClaimOtpSent,
  type ClaimSecret,
} from './claims.service';
import { ClaimBindDto, ClaimBindTicketRequestDto, ClaimRevealDto, RedeemClaimTicketDto } from './dto/claim.dto';

interface ClaimRequestHeaders {
  origin?: string;
  'sec-fetch-site'?: string;
  'accept-language'?: string;
}

/**
 * The employee's claim page: no login (the token in the URL is the key), server-rendered HTML, and the JSON actions
 * its script calls. Not part of the API document. The claim headers (src/bootstrap.ts) forbid caching, referrers,
 * indexing and framing; the page's CSP admits only its own nonce's script and style.
 */
@ApiExcludeController()
@Controller('claim')
export class ClaimController {
  constructor(
    private readonly claims: ClaimsService,
    private readonly paymentCodes: ClaimPaymentCodes,
  ) {}

  @Get('assets/:name')
  @Public()
  asset(@Param('name') name: string, @Res() reply: FastifyReply): void {
    const svg = claimAsset(name);
    if (svg === null) {
      void reply.status(404).type('text/plain; charset=utf-8').send('Not found');
      return;
    }
    void reply
      .header('cache-control', 'public, max-age=86400')
      .header('cross-origin-resource-policy', 'same-origin')
      .type('image/svg+xml; charset=utf-8')
      .send(svg);
  }

  @Get(':token')
  @Public()
  async page(
    @Ctx() ctx: RequestContext,
    @Param('token') token: string,
    @Query('lang') lang: string | undefined,
    @Headers() headers: ClaimRequestHeaders,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    // A HEAD (link checkers, previews) answers like the page but is no view.
    const view = await this.claims.view(ctx, token, { record: request.method === 'GET' });
    const requested = typeof lang === 'string' ? lang : undefined;
    const nonce = randomBytes(16).toString('base64');
    void reply.header('content-security-policy', claimPageCsp(nonce)).type('text/html; charset=utf-8');
    if (view.kind === 'error') {
      const locale = pickLocale(requested, headers['accept-language'], view.recipientLocale ?? undefined);
      void reply.status(view.error === 'not_found' ? 404 : 410).send(renderClaimError(view.error, locale, nonce));
      return;
    }
    const locale = pickLocale(requested, headers['accept-language'], view.recipientLocale);
    void reply.status(200).send(renderClaimPage({ ...view.model, locale }, nonce));
  }

  @Post(':token/reveal')
  @Public()
  @HttpCode(200)
  reveal(
    @Ctx() ctx: RequestContext,
    @Param('token') token: string,
    @Headers() headers: ClaimRequestHeaders,
    @Body() body: ClaimRevealDto,
  ): Promise<ClaimSecret> {
    this.claims.assertSameOrigin(headers);
    return this.claims.reveal(ctx, token, body?.otp);
  }

  @Post(':token/otp')
  @Public()
  @HttpCode(200)
  otp(
    @Ctx() ctx: RequestContext,
    @Param('token') token: string,
    @Headers() headers: ClaimRequestHeaders,
  ): Promise<ClaimOtpSent> {
    this.claims.assertSameOrigin(headers);
    return this.claims.sendOtp(ctx, token);
  }

  /** The card's current payment code and its QR (a POST: the answer is a secret, and no cache or URL keeps it). */
  @Post(':token/payment-code')
  @Public()
  @HttpCode(200)
  paymentCode(
    @Ctx() ctx: RequestContext,
    @Param('token') token: string,
    @Headers() headers: ClaimRequestHeaders,
  ): Promise<ClaimPaymentCode> {
    this.claims.assertSameOrigin(headers);
    return this.paymentCodes.paymentCode(ctx, token);
  }

  @Post(':token/bind-ticket')
  @Public()
  @HttpCode(200)
  bindTicket(
    @Ctx() ctx: RequestContext,
    @Param('token') token: string,
    @Headers() headers: ClaimRequestHeaders,
    @Body() body: ClaimBindTicketRequestDto,
  ): Promise<ClaimBindTicket> {
    this.claims.assertSameOrigin(headers);
    return this.claims.bindTicket(ctx, token, body.channel);
  }
}

/** The redemption channel's side of "add to my account" on the claim page. */
@ApiTags('redemptions')
@RequireScopes('redemptions:write')
@Controller('v1/redemptions/claim-tickets')
export class ClaimTicketsController {
  constructor(private readonly claims: ClaimsService) {}

  @Post(':ticket/bind')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Bind a distributed card to a holder with the ticket of its claim page',
    description:
      "An employee pressed \"add to my account\" on a card's claim page and was sent to this channel's claim_bind_url with `?ticket=`. The channel redeems the ticket (single use, valid 10 minutes, only for the channel it was made for) with the employee's holder_ref: the card is bound to that holder as by POST /v1/redemptions/bind (first bind wins; card.bound), without the code ever leaving Fuli. A retry with the same holder gets the same answer. Errors: claim_ticket_not_found (404; also another channel's ticket), claim_ticket_used (409), card_already_bound (409), claim_ticket_expired, claim_link_expired, claim_link_revoked, card_unavailable (410).",
    operationId: 'bindClaimTicket',
  })
  @ApiOkResponse({ type: ClaimBindDto })
  @ApiNotFoundResponse({ type: Problem, description: 'claim_ticket_not_found: no such ticket for this channel' })
  @ApiConflictResponse({ type: Problem, description: 'claim_ticket_used, card_already_bound' })
  @ApiGoneResponse({
    type: Problem,
    description: 'claim_ticket_expired, claim_link_expired, claim_link_revoked, card_unavailable',
  })
  redeem(
    @Ctx() ctx: RequestContext,
    @Param('ticket') ticket: string,
    @Body() dto: RedeemClaimTicketDto,
  ): Promise<ClaimBound> {
    return this.claims.redeemBindTicket(ctx, ticket, dto.holder_ref);
  }
}
