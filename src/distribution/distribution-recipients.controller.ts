import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { DistributionControlService } from './distribution-control.service';
import {
  ChangeRecipientContactDto,
  DistributionCancelledDto,
  RecipientControlDto,
} from './dto/distribution-control.dto';

/** Control of a distribution under way: resend, change of contact, revocation, cancellation (README). */
@ApiTags('distributions')
@Controller('v1/distributions')
export class DistributionRecipientsController {
  constructor(private readonly control: DistributionControlService) {}

  @Post(':id/recipients/:recipientId/resend')
  @HttpCode(200)
  @RequireScopes('distributions:write')
  @ApiOperation({
    summary: "Resend a recipient's message",
    description:
      'A new claim link goes out by the same channel; the previous link stops working. At most 3 resends per ' +
      'recipient in any 24 hours. Channel `link`: the new `claim_url` is in this answer, and only here.',
    operationId: 'resendDistributionRecipient',
  })
  @ApiOkResponse({ type: RecipientControlDto })
  @ApiNotFoundResponse({ type: Problem, description: 'No such distribution or recipient' })
  @ApiConflictResponse({
    type: Problem,
    description:
      'already_claimed: the card was claimed or bound; not_sent_yet: nothing was sent yet; not_resendable: channel ' +
      '`account`; invalid_state: a revoked recipient',
  })
  @ApiTooManyRequestsResponse({ type: Problem, description: 'resend_limit_reached: 3 resends in the last 24 hours' })
  resend(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Param('recipientId') recipientId: string,
  ): Promise<RecipientControlDto> {
    return this.control.resend(ctx, id, recipientId);
  }

  @Post(':id/recipients/:recipientId/contact')
  @HttpCode(200)
  @RequireScopes('distributions:write')
  @ApiOperation({
    summary: "Change a recipient's e-mail, mobile or channel before the card is claimed",
    description:
      'The previous link stops working and a new message goes to the new contact (not sent yet: the first message ' +
      'simply goes there). Channel `link`: the new `claim_url` is in this answer, and only here.',
    operationId: 'changeDistributionRecipientContact',
  })
  @ApiOkResponse({ type: RecipientControlDto })
  @ApiBadRequestResponse({
    type: Problem,
    description:
      'validation_failed (each fault in `errors`); contact_required: no email, mobile or channel, or the channel ' +
      'without its contact',
  })
  @ApiNotFoundResponse({ type: Problem, description: 'No such distribution or recipient' })
  @ApiConflictResponse({
    type: Problem,
    description: 'already_claimed: the card was claimed or bound; not_changeable: channel `account`; invalid_state',
  })
  changeContact(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Param('recipientId') recipientId: string,
    @Body() dto: ChangeRecipientContactDto,
  ): Promise<RecipientControlDto> {
    return this.control.changeContact(ctx, id, recipientId, dto);
  }

  @Post(':id/recipients/:recipientId/revoke')
  @HttpCode(200)
  @RequireScopes('distributions:write')
  @ApiOperation({
    summary: "Revoke a recipient's card before it is claimed",
    description:
      'The link stops working and the card goes back to the pool of the order (another distribution may take it). ' +
      'Revoking a revoked recipient changes nothing.',
    operationId: 'revokeDistributionRecipient',
  })
  @ApiOkResponse({ type: RecipientControlDto })
  @ApiNotFoundResponse({ type: Problem, description: 'No such distribution or recipient' })
  @ApiConflictResponse({ type: Problem, description: 'already_claimed: the card was claimed or bound' })
  revoke(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Param('recipientId') recipientId: string,
  ): Promise<RecipientControlDto> {
    return this.control.revoke(ctx, id, recipientId);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @RequireScopes('distributions:write')
  @ApiOperation({
    summary: 'Cancel a scheduled distribution',
    description:
      'Before its send time only: every recipient is revoked and every card goes back to the pool ' +
      '(distribution.cancelled). Cancelling a cancelled distribution changes nothing.',
    operationId: 'cancelDistribution',
  })
  @ApiOkResponse({ type: DistributionCancelledDto })
  @ApiNotFoundResponse({ type: Problem, description: 'No such distribution' })
  @ApiConflictResponse({ type: Problem, description: 'distribution_started: sending has begun' })
  cancel(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<DistributionCancelledDto> {
    return this.control.cancel(ctx, id);
  }
}
