import { Controller, Get, Param } from '@nestjs/common';
import { ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { CardTrailService } from './card-trail.service';
import { CardTrailDto } from './dto/card-trail.dto';

/** A card's trail (交易溯源), for its enterprise and the operator. */
@ApiTags('cards')
@Controller('v1/cards')
export class CardTrailController {
  constructor(private readonly trails: CardTrailService) {}

  @Get(':serial/trail')
  @RequireScopes()
  @ApiOperation({
    summary: "A card's whole history from the audit chain, each step with its record's hash",
    description:
      "Minted, exported, distributed, claimed, bound (by which channel), each debit and reversal, freezes, loss and replacement, fraud alerts: every audit record about the card, in chain order, with its seq, prev_hash and hash to check against GET /v1/admin/audit. Enterprise clients with cards:read see their own cards'; the operator any.",
    operationId: 'getCardTrail',
  })
  @ApiOkResponse({ type: CardTrailDto })
  @ApiForbiddenResponse({ type: Problem, description: 'insufficient_scope: cards:read is needed' })
  @ApiNotFoundResponse({ type: Problem, description: "card_not_found, also for another tenant's card" })
  trail(@Ctx() ctx: RequestContext, @Param('serial') serial: string): Promise<CardTrailDto> {
    return this.trails.trail(ctx, serial);
  }
}
